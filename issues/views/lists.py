"""The issue list, and the same list as a CSV file (issues.exports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from issues import exports, presentation, selectors
from issues.filters import IssueFilter
from issues.models import Issue
from issues.selectors.cases import may_see_cases
from issues.views.shared import _user
from smartcard_route.dates import moment_in_words
from smartcard_route.fragments import form_fragment
from smartcard_route.pagination import paginate

PAGE_SIZE = 25


def issue_rows(issues: Any) -> list[dict[str, Any]]:
    """The table rows of a list of issues: its page's path, kind, status tag, age and deadline in
    words (issues.presentation), worked out here so that the templates only print them."""
    now = timezone.now()
    return [
        {
            **_row(issue, now),
            "tag": presentation.status_tag(issue),
            "age": presentation.age_in_words(issue, now=now),
        }
        for issue in issues
    ]


def escalation_rows(issues: Any) -> list[dict[str, Any]]:
    """The rows of CPE IT's triaged escalations: as issue_rows, with the triage's outcome and when
    it was made instead of the status and the age, which that table does not show."""
    now = timezone.now()
    return [
        {
            **_row(issue, now),
            "outcome": presentation.TRIAGE_OUTCOME_LABELS.get(issue.triage_outcome, issue.triage_outcome),
            "triaged": moment_in_words(issue.triaged_at, now=now),
        }
        for issue in issues
    ]


def _row(issue: Issue, now: datetime) -> dict[str, Any]:
    return {
        "issue": issue,
        "path": presentation.issue_path(issue.reference),
        "kind": presentation.KIND_LABELS.get(issue.kind, issue.kind),
        "deadline": presentation.deadline_text(issue, now=now),
        "overdue": presentation.is_overdue(issue, now=now),
    }


def list_filter(request: HttpRequest) -> IssueFilter:
    """The list's filters from the URL (issues.filters.IssueFilter): open issues unless a state is chosen."""
    data = request.GET.copy()
    data.setdefault("state", "open")
    return IssueFilter(data, request=request)


@require_http_methods(["GET"])
def issue_list(request: HttpRequest) -> HttpResponse:
    """The issues the user may see, filtered by the URL's parameters (issues.filters.IssueFilter);
    open issues unless a state is chosen. A nonsense filter answers 400 with the error summary."""
    user = _user(request)
    filters = list_filter(request)
    valid = filters.is_valid()
    page, pagination = paginate(request, selectors.for_table(filters.qs) if valid else Issue.objects.none(), PAGE_SIZE)
    context = {
        "form": filters.form,
        "filters_html": form_fragment("issues/_filters.jinja", filters.form),
        "page": page,
        "rows": issue_rows(page.object_list),
        "pagination": pagination,
        "may_report": selectors.reports_for_a_pharmacy(user=user),
        "may_group": may_see_cases(user),
    }
    return render(request, "issues/list.jinja", context, status=200 if valid else 400)


@require_http_methods(["GET"])
def issue_list_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The list's rows, with the same filters (the list page's query string), as a CSV file,
    streamed (issues.exports). A nonsense filter answers as the list does: 400, the same messages."""
    filters = list_filter(request)
    if not filters.is_valid():
        return issue_list(request)
    response = StreamingHttpResponse(exports.issue_csv_pieces(filters.qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="issues.csv"'
    response["Cache-Control"] = "no-store"  # names and summaries: personal data (DESIGN.md)
    return response
