"""The issue page and its actions (each a row of the route table, taken from its form).

A refused action or a lost race is shown as a message, never a 500."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from issues import forms as issue_forms
from issues import guidance, presentation, route, selectors, services
from issues.exceptions import IssueServiceError
from issues.models import Issue
from issues.selectors.cases import case_of_issue, may_see_cases
from issues.views.shared import _issue_or_404, _status_for, _user
from smartcard_route.fragments import form_fragment


def _render_detail(
    request: HttpRequest,
    issue: Issue,
    *,
    bound: issue_forms.NhsukForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    roles = selectors.issue_roles(user=user, issue=issue)
    allowed = selectors.issue_allowed_actions(user=user, issue=issue, roles=roles)
    open_action = bound.prefix if bound is not None else None
    actions = []
    for row in route.ROUTE:
        if row.name not in allowed or row.own_page:
            continue
        is_open = row.name == open_action
        form = bound if is_open else issue_forms.ACTION_FORMS[row.name](prefix=row.name, roles=roles, user=user)
        assert form is not None  # open only when bound
        actions.append(
            {
                "action": {"name": row.name, "title": row.label.title, "button": row.label.button},
                "form": form,
                "fields_html": form_fragment("issues/_action_fields.jinja", form),
                "open": is_open,
            }
        )
    now = timezone.now()
    context = {
        "issue": issue,
        "tag": presentation.status_tag(issue),
        "deadline": presentation.deadline_text(issue, now=now),
        "overdue": presentation.is_overdue(issue, now=now),
        "guidance": guidance.guidance_for(issue=issue, user=user, now=now, roles=roles),
        "may_contact_ra": "contact_ra" in allowed,
        "contact_ra_title": route.CONTACT_RA.label.title,
        "actions": actions,
        "events": selectors.issue_events(issue=issue),
        "state_labels": presentation.status_labels_by_state(issue),
        "smartcard_number": presentation.format_smartcard_number(issue.smartcard_number),
        "error": error,
        "case": case_of_issue(issue=issue),
        "may_see_case": may_see_cases(user),
    }
    return render(request, "issues/detail.jinja", context, status=status)


@require_http_methods(["GET"])
def issue_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_detail(request, _issue_or_404(request, reference))


@require_POST
def issue_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    """One row of the route table taken from its form on the issue page: its service, by name."""
    user = _user(request)
    issue = _issue_or_404(request, reference)
    row = route.ACTIONS.get(action)
    if row is None or row.own_page:
        raise Http404("No such action")
    roles = selectors.issue_roles(user=user, issue=issue)
    form = issue_forms.ACTION_FORMS[row.name](request.POST, prefix=row.name, roles=roles, user=user)
    fields = form.service_fields()
    try:
        services.ACTION_SERVICES[row.name](user=user, issue=issue, **fields)
    except ValidationError as error:
        form.present(error)
        return _render_detail(request, _issue_or_404(request, reference), bound=form, status=400)
    except IssueServiceError as error:
        # The service saved nothing: show the issue as it is now, with the reason.
        issue = _issue_or_404(request, reference)
        return _render_detail(request, issue, error=error.message, status=_status_for(error))
    messages.success(request, row.label.success_for(fields))
    return redirect("issues:detail", reference=issue.reference)
