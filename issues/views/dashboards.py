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
from issues.selectors import cpe
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
    """What needs the CPE IT team (issues.selectors.cpe): escalations to triage, the oldest deadline
    first; triaged escalations by owner, the user's own first; unmatched mail; counts by state."""
    user = _user(request)
    if not user.is_cpe_it:
        raise PermissionDenied("Only the CPE IT team has this dashboard.")
    dashboard = cpe.cpe_dashboard(user=user)
    context = {
        "dashboard": dashboard,
        "to_triage": issue_rows(dashboard.to_triage),
        "triaged": [{"group": group, "rows": issue_rows(group.issues)} for group in dashboard.triaged],
        "triaged_shown": sum(len(group.issues) for group in dashboard.triaged),
        "counts": _state_counts(dashboard.counts),
        "overdue_count": dashboard.counts.overdue,
        "limit": cpe.DASHBOARD_SIZE,
    }
    return render(request, "issues/cpe_dashboard.jinja", context)


def _state_counts(counts: selectors.IssueCounts) -> list[dict[str, Any]]:
    return [{"state": s, "tag": presentation.state_tag(s), "count": counts.by_state[s]} for s in State]


def _render_dashboard(request: HttpRequest, template: str, *, user: User, issues: QuerySet[Issue]) -> HttpResponse:
    """A dashboard: the first DASHBOARD_SIZE of `issues`, and how many visible issues are in each state."""
    counts = selectors.issue_counts(user=user)
    context = {
        "rows": issue_rows(issues[:DASHBOARD_SIZE]),
        "counts": [{"state": s, "tag": presentation.state_tag(s), "count": counts.by_state[s]} for s in State],
        "overdue_count": counts.overdue,
        "limit": DASHBOARD_SIZE,
    }
    return render(request, template, context)
