"""The start page: the route in a few lines, and the way in for each role; and where signing in
lands each role (`landing`, settings.LOGIN_REDIRECT_URL)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from directory.roles import user_roles
from issues import windows
from issues.models import Deadline


@login_not_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The start page: the route in a few lines, and the way in for each role."""
    return render(request, "home.jinja", {"ra_window": windows.window_in_words(Deadline.RA_REPLY, is_emergency=False)})


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """Where signing in lands (settings.LOGIN_REDIRECT_URL; a `?next=` page comes first): CPE IT on
    their dashboard, LPC officers on theirs, everyone else on the start page, which leads pharmacy
    teams to report a problem or to their issues."""
    roles = user_roles(request.user)
    if roles.cpe_it:
        return redirect("dashboards:cpe_it")
    if roles.lpc_officer:
        return redirect("dashboards:lpc")
    return redirect("home")
