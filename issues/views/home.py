"""The start page: the route in a few lines, and the way in for each role."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from issues import windows
from issues.models import Deadline


@login_not_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The start page: the route in a few lines, and the way in for each role."""
    return render(request, "home.jinja", {"ra_window": windows.window_in_words(Deadline.RA_REPLY, is_emergency=False)})
