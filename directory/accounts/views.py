"""Logging in and out and resetting a password: Django's views with our forms and templates."""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.base_client import OAuthError
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError
from requests import RequestException

from directory.accounts import cis2
from directory.accounts.forms import EmailAuthenticationForm, NewPasswordForm, PasswordResetRequestForm

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.jinja"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # CIS2's button, beside the password form, when CIS2 sign-in is switched on.
        return {**super().get_context_data(**kwargs), "cis2_enabled": cis2.enabled()}


class LogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView); says so once the session is gone."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.success(request, "You have logged out")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.jinja"
    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.jinja"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.jinja"
    form_class = NewPasswordForm
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Whoever proved they own the mailbox may log in again at once, even if locked out.
        axes_reset(username=form.user.email)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.jinja"


# Sign-in with NHS CIS2 (directory.accounts.cis2) ----------------------------------------------

NEXT_KEY = "cis2_next"


@login_not_required
@never_cache
@require_GET
def cis2_login(request: HttpRequest) -> HttpResponse:
    """Send the person to CIS2 to sign in (404 while CIS2 is off)."""
    if not cis2.enabled():
        raise Http404
    wanted = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        request.session[NEXT_KEY] = wanted
    try:
        return cis2.client().authorize_redirect(request, request.build_absolute_uri(reverse("cis2_callback")))
    except (RequestException, ValueError, KeyError):
        logger.warning("cis2 sign-in: the provider could not be reached", exc_info=True)
        return _cis2_failed(request, status=503)


@login_not_required
@never_cache
@require_GET
def cis2_callback(request: HttpRequest) -> HttpResponse:
    """CIS2 sends the person back here: check its answer, find their account by email, log them in."""
    if not cis2.enabled():
        raise Http404
    try:
        token = cis2.client().authorize_access_token(request)
    except (OAuthError, JoseError, RequestException, ValueError, KeyError, TypeError):
        logger.warning("cis2 sign-in: the provider's answer was refused", exc_info=True)
        return _cis2_failed(request, status=400)
    try:
        user = cis2.user_for_claims(cis2.claims_for(token))
    except (OAuthError, RequestException, ValueError):
        logger.warning("cis2 sign-in: the userinfo endpoint failed", exc_info=True)
        return _cis2_failed(request, status=400)
    except cis2.SignInRefused as refused:
        logger.info("cis2 sign-in refused: %s", type(refused).__name__)
        context = {"reason": str(refused), "email": refused.email}
        return render(request, "accounts/cis2_refused.jinja", context, status=403)
    wanted = request.session.pop(NEXT_KEY, "")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    logger.info("cis2 sign-in of user %s", user.pk)
    return redirect(wanted or resolve_url(settings.LOGIN_REDIRECT_URL))


def _cis2_failed(request: HttpRequest, *, status: int) -> HttpResponse:
    return render(request, "accounts/cis2_failed.jinja", {}, status=status)
