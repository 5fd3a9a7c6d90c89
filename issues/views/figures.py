"""The figures page (/dashboard/figures/): CPE IT's across every LPC, an LPC officer's for the
issues they may see; the same tables the dashboards include (templates/issues/_figures.jinja).

`figures_tables` turns issues.selectors.figures' numbers into the tables' rows (words for people,
the number itself in `value` for static/js/figures.js, which draws each chart from its table).
A dashboard includes the figures with `figures_context(request)` in its context.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from issues.forms import FiguresPeriodForm
from issues.selectors.figures import DEFAULT_WEEKS, Figures, figures_for, may_see_figures
from issues.views.shared import _user
from issues.windows import working_days_in_words
from smartcard_route.dates import day_in_words, moment_in_words


def _days(days: float | None) -> dict[str, Any]:
    if days is None:
        return {"text": "None yet", "value": ""}
    rounded = round(days, 1)
    return {"text": working_days_in_words(rounded), "value": f"{rounded:g}"}


def _share(part: int, whole: int) -> dict[str, Any]:
    if not whole:
        return {"text": "None yet", "value": ""}
    percent = round(100 * part / whole)
    return {"text": f"{percent}%", "value": str(percent)}


def figures_tables(figures: Figures) -> dict[str, Any]:
    """The rows of the figures' three tables: per week, per step, per RA."""
    return {
        "weeks": figures.period.weeks,
        # When the worker worked out the figures (None: for this request), in words, and whose.
        "snapshot_at": moment_in_words(figures.snapshot_at) if figures.snapshot_at else None,
        "scope": figures.scope,
        "stale": figures.is_stale,
        "refresh_minutes": settings.FIGURES_REFRESH_MINUTES,
        "ra_window": working_days_in_words(figures.ra_window_days),
        "resolved": figures.resolved,
        "per_week": [
            {"week": f"Week of {day_in_words(row.week)}", "opened": row.opened, "resolved": row.resolved}
            for row in figures.weeks
        ],
        "per_step": [
            {
                "label": row.label,
                "resolved": row.resolved,
                "share": _share(row.resolved, figures.resolved),
                "median": _days(row.median_days),
            }
            for row in figures.steps
        ],
        "per_ra": [
            {
                "name": row.name,
                "requests": row.requests,
                "median": _days(row.median_reply_days),
                "within": _share(row.within_window, row.decided),
                "unanswered": row.unanswered,
            }
            for row in figures.ras
        ],
    }


def figures_context(request: HttpRequest) -> dict[str, Any]:
    """What templates/issues/_figures.jinja needs, for the request's user and its ?weeks= (the
    period form, bound; the tables when it is valid, else None and the form carries the error)."""
    data = request.GET.copy()
    data.setdefault("weeks", str(DEFAULT_WEEKS))  # so the period chosen by default shows as chosen
    form = FiguresPeriodForm(data)
    if not form.is_valid():
        return {"figures_form": form, "figures": None}
    return {
        "figures_form": form,
        "figures": figures_tables(figures_for(user=_user(request), weeks=form.chosen_weeks())),
    }


@require_http_methods(["GET"])
def figures_page(request: HttpRequest) -> HttpResponse:
    """The figures of the issues the user may see, over the period chosen (?weeks=4, 13 or 52).
    A period that is not one of those answers 400 with the error summary; outside the roles, 404."""
    if not may_see_figures(user=_user(request)):
        raise Http404("No such page.")
    context = figures_context(request)
    return render(request, "issues/figures.jinja", context, status=200 if context["figures"] else 400)
