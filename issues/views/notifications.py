"""The signed-in person's own settings: how they get reminders (nudge emails) about their issues."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from issues import nudges, selectors
from issues.forms import NotificationPreferenceForm
from issues.models import NotificationPreference
from issues.views.shared import _user

Delivery = NotificationPreference.Delivery

SAVED: dict[str, str] = {
    Delivery.IMMEDIATE: "Saved: you will get each reminder by email straight away.",
    Delivery.DAILY_DIGEST: "Saved: you will get one email each weekday morning listing your reminders.",
}


def _render(request: HttpRequest, form: NotificationPreferenceForm, *, status: int = 200) -> HttpResponse:
    context = {"form": form, "digest_time": settings.DIGEST_TIME}
    return render(request, "issues/notification_preferences.jinja", context, status=status)


@require_GET
def notification_preferences(request: HttpRequest) -> HttpResponse:
    chosen = selectors.notification_preference_of(user=_user(request))
    return _render(request, NotificationPreferenceForm(initial={"nudge_delivery": chosen}))


@require_POST
def notification_preferences_save(request: HttpRequest) -> HttpResponse:
    form = NotificationPreferenceForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=400)
    try:
        preference = nudges.notification_preference_set(user=_user(request), **form.cleaned_data)
    except ValidationError as error:
        form.add_error(None, error)
        return _render(request, form, status=400)
    messages.success(request, SAVED[preference.nudge_delivery])
    return redirect("notifications:notification_preferences")
