"""The dashboards: the LPC officer's (/dashboard/lpc/) and CPE IT's (/dashboard/cpe-it/)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from directory.models import User
from issues import presentation, selectors
from issues.models import Issue, State
from issues.selectors.cases import cases_dashboard_sections
from issues.views.lists import issue_rows
from issues.views.shared import _user

DASHBOARD_SIZE = 50


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
    return _render_dashboard(
        request, "issues/cpe_dashboard.jinja", user=user, issues=issues, extra=cases_dashboard_sections(user=user)
    )


def _render_dashboard(
    request: HttpRequest, template: str, *, user: User, issues: QuerySet[Issue], extra: dict[str, Any] | None = None
) -> HttpResponse:
    """A dashboard: the first DASHBOARD_SIZE of `issues`, and how many visible issues are in each state."""
    counts = selectors.issue_counts(user=user)
    context = {
        "rows": issue_rows(issues[:DASHBOARD_SIZE]),
        "counts": [{"state": s, "tag": presentation.state_tag(s), "count": counts.by_state[s]} for s in State],
        "overdue_count": counts.overdue,
        "limit": DASHBOARD_SIZE,
        **(extra or {}),
    }
    return render(request, template, context)
