"""The issue list and the two dashboards (the LPC officer's and CPE IT's)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from directory.models import User
from issues import presentation, selectors
from issues.filters import IssueFilter
from issues.models import Issue, State
from issues.views.shared import _user
from smartcard_route.pagination import paginate

PAGE_SIZE = 25
DASHBOARD_SIZE = 50


def _rows(issues: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            "issue": issue,
            "tag": presentation.status_tag(issue),
            "age": presentation.age_in_words(issue, now=now),
            "deadline": presentation.deadline_text(issue, now=now),
            "overdue": presentation.is_overdue(issue, now=now),
        }
        for issue in issues
    ]


@require_http_methods(["GET"])
def issue_list(request: HttpRequest) -> HttpResponse:
    """The issues the user may see, filtered by the URL's parameters (issues.filters.IssueFilter);
    open issues unless a state is chosen. A nonsense filter answers 400 with the error summary."""
    user = _user(request)
    data = request.GET.copy()
    data.setdefault("state", "open")
    filters = IssueFilter(data, request=request)
    valid = filters.is_valid()
    page, pagination = paginate(request, filters.qs if valid else Issue.objects.none(), PAGE_SIZE)
    context = {
        "form": filters.form,
        "page": page,
        "rows": _rows(page.object_list),
        "pagination": pagination,
        "may_report": selectors.pharmacies_for_reporting(user=user).exists(),
    }
    return render(request, "issues/list.jinja", context, status=200 if valid else 400)


@require_http_methods(["GET"])
def lpc_dashboard(request: HttpRequest) -> HttpResponse:
    """The LPC officer's issues, those waiting on the LPC first, and how many are in each state."""
    user = _user(request)
    if not user.lpcs.exists():
        raise PermissionDenied("Only LPC officers have an LPC dashboard.")
    waiting_on_lpc_first = Case(When(state=State.LPC_CC, then=Value(0)), default=Value(1))
    issues = (
        selectors.issue_list(user=user, state="open")
        .filter(lpc_involved_at__isnull=False)
        .order_by(waiting_on_lpc_first, F("due_at").asc(nulls_last=True), "-created_at")
    )
    return _render_dashboard(request, "issues/lpc_dashboard.jinja", user=user, issues=issues)


@require_http_methods(["GET"])
def cpe_dashboard(request: HttpRequest) -> HttpResponse:
    """Escalations awaiting the CPE IT team's triage, oldest deadline first, and counts by state."""
    user = _user(request)
    if not user.is_cpe_it:
        raise PermissionDenied("Only the CPE IT team has this dashboard.")
    issues = selectors.issue_list(user=user, state=State.ESCALATED).order_by(
        F("due_at").asc(nulls_last=True), "created_at"
    )
    return _render_dashboard(request, "issues/cpe_dashboard.jinja", user=user, issues=issues)


def _render_dashboard(request: HttpRequest, template: str, *, user: User, issues: QuerySet[Issue]) -> HttpResponse:
    """A dashboard: the first DASHBOARD_SIZE of `issues`, and how many visible issues are in each state."""
    counts = selectors.issue_counts(user=user)
    context = {
        "rows": _rows(issues[:DASHBOARD_SIZE]),
        "counts": [{"state": s, "tag": presentation.state_tag(s), "count": counts.by_state[s]} for s in State],
        "overdue_count": counts.overdue,
        "limit": DASHBOARD_SIZE,
    }
    return render(request, template, context)
