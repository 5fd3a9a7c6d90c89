"""Static files (with the NHS.UK frontend's images at /assets/) and login-by-default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
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
