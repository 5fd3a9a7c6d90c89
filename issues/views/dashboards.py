"""The dashboards: the LPC officer's (/dashboard/lpc/) and CPE IT's (/dashboard/cpe-it/)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from issues import presentation, selectors
from issues.models import State
from issues.selectors import cpe
from issues.selectors import lpc as lpc_selectors
from issues.selectors.cases import cases_dashboard_sections
from issues.views.figures import figures_context
from issues.views.lists import escalation_rows, issue_rows
from issues.views.shared import _user
from smartcard_route.dates import moment_in_words

DASHBOARD_SIZE = 50


@require_http_methods(["GET"])
def lpc_dashboard(request: HttpRequest) -> HttpResponse:
    """The LPC officer's "what needs me now": what waits on the LPC, its other open issues, and
    the counts of the whole area (issues.selectors.lpc)."""
    user = _user(request)
    lpcs = lpc_selectors.lpcs_of_officer(user=user)
    if not lpcs:
        raise PermissionDenied("Only LPC officers have an LPC dashboard.")
    board = lpc_selectors.lpc_dashboard(user=user, lpcs=lpcs, rows=selectors.for_table)
    context = {
        "board": board,
        "waiting": issue_rows(board.waiting_on_lpc),
        "others": issue_rows(board.waiting_on_others),
        # The list's LPC filter, when the officer has one LPC (several: the list shows all theirs).
        "lpc_query": f"&lpc={lpcs[0].pk}" if len(lpcs) == 1 else "",
        "closed_as_of": moment_in_words(board.closed_as_of) if board.closed_as_of else None,
        "limit": lpc_selectors.DASHBOARD_SIZE,
        **figures_context(request),
    }
    return _render_with_figures(request, "issues/lpc_dashboard.jinja", context)


@require_http_methods(["GET"])
def cpe_dashboard(request: HttpRequest) -> HttpResponse:
    """What needs the CPE IT team (issues.selectors.cpe): escalations to triage, the oldest deadline
    first; triaged escalations by owner, the user's own first; unmatched mail; counts by state."""
    user = _user(request)
    if not user.is_cpe_it:
        raise PermissionDenied("Only the CPE IT team has this dashboard.")
    dashboard = cpe.cpe_dashboard(user=user, rows=selectors.for_table)
    context = {
        "dashboard": dashboard,
        "to_triage": issue_rows(dashboard.to_triage),
        "triaged": [{"group": group, "rows": escalation_rows(group.issues)} for group in dashboard.triaged],
        "triaged_shown": sum(len(group.issues) for group in dashboard.triaged),
        "counts": _state_counts(dashboard.counts),
        "overdue_count": dashboard.counts.overdue,
        "closed_as_of": moment_in_words(dashboard.counts.closed_as_of) if dashboard.counts.closed_as_of else None,
        "limit": cpe.DASHBOARD_SIZE,
        **cases_dashboard_sections(user=user),
        **figures_context(request),
    }
    return _render_with_figures(request, "issues/cpe_dashboard.jinja", context)


def _render_with_figures(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A dashboard with its figures (issues.views.figures); a nonsense period (?weeks=) answers 400,
    the figures' period form saying what is wrong, the rest of the dashboard as usual."""
    return render(request, template, context, status=200 if context["figures"] is not None else 400)


def _state_counts(counts: selectors.IssueCounts) -> list[dict[str, Any]]:
    return [{"state": s, "tag": presentation.state_tag(s), "count": counts.by_state[s]} for s in State]
