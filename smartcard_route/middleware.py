"""Static files (with the NHS.UK frontend's images at /assets/) and login-by-default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.db import DatabaseError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticAndNhsukAssetsMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, plus the NHS.UK frontend's images at /assets/, where its compiled CSS expects them."""

    def __init__(self, get_response: Callable[..., Any] | None = None, settings: Any = settings) -> None:
        super().__init__(get_response, settings=settings)
        if settings.NHSUK_ASSETS_DIR.is_dir():
            self.add_files(str(settings.NHSUK_ASSETS_DIR), prefix="assets/")


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every page needs a login unless its view is marked `@login_not_required`.

    The JSON API is left to the REST framework, which answers 401/403 instead of redirecting.
    """

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        if request.path.startswith("/api/"):
            return None
        if not getattr(view_func, "login_required", True):
            # A public view (the health check, the login page) never loads the visitor's session
            # first: /healthz must answer 503, not 500, to a browser with a cookie while the
            # database is down.
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class NoStoreForSignedInMiddleware:
    """`Cache-Control: no-store` on every answer to a signed-in user (DESIGN.md, "Personal data").

    Pages and API answers for a signed-in user are the ones that hold personal data, and pharmacy
    computers are shared: no browser or proxy may keep a copy. The rule is by user, not by route,
    so a new page cannot forget it. The API's token users count too: the REST framework sets
    `request.user` on the Django request when it authenticates one, before this runs on the way
    out. Static files never get here (WhiteNoise answers them earlier in the chain) and keep their
    long-lived caching. A response that already forbids storing (Django's `never_cache`) is left as it is.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        try:
            signed_in = user is not None and user.is_authenticated
        except DatabaseError:
            # The session could not be read (the database is down: /healthz answers 503, not 500):
            # who it is cannot be known, so nothing may be kept.
            signed_in = True
        if signed_in and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response
