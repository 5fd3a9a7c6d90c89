"""The Jinja2 environment for pages: NHS.UK frontend macros plus a few Django helpers.

What an app adds to every page (the header navigation: directory.navigation) comes through a
context processor named in settings.TEMPLATES, so the plumbing imports no app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, PackageLoader


def url(viewname: str, *args: Any, **kwargs: Any) -> str:
    return reverse(viewname, args=args or None, kwargs=kwargs or None)


def url_or_none(viewname: str, *args: Any, **kwargs: Any) -> str | None:
    """The URL of a named page, or None when no such page exists (yet)."""
    try:
        return url(viewname, *args, **kwargs)
    except NoReverseMatch:
        return None


def london_datetime(value: Any, fmt: str = "l j F Y, H:i") -> str:
    """A datetime as people in England read it: 'Wednesday 30 December 2026, 10:00'."""
    if value is None:
        return ""
    return date_format(timezone.localtime(value), fmt)


def london_date(value: Any, fmt: str = "j F Y") -> str:
    if value is None:
        return ""
    if hasattr(value, "tzinfo"):
        value = timezone.localtime(value)
    return date_format(value, fmt)


def nhsuk_stylesheet() -> str:
    """NHS.UK frontend's CSS as compiled from scss/: with the NHS web font only where NHS_FONTS allows it."""
    return static("build/nhsuk-frontend-nhs-fonts.css" if settings.NHS_FONTS else "build/nhsuk-frontend.css")


def environment(**options: Any) -> Environment:
    # Django passes the loader it built from TEMPLATES["DIRS"]; NHS.UK's macros come after it.
    project_loader = options.pop("loader")
    # nhsuk-frontend-jinja reads optional nested parameters, which needs ChainableUndefined.
    options["undefined"] = ChainableUndefined
    # Django's backend passes autoescape=True (its default) in options.
    env = Environment(  # noqa: S701
        loader=ChoiceLoader([project_loader, PackageLoader("nhsuk_frontend_jinja")]),
        **options,
    )
    env.globals.update(
        {
            "url": url,
            "static": static,
            "nhsuk_stylesheet": nhsuk_stylesheet,
            "get_messages": messages.get_messages,
            "url_or_none": url_or_none,
            "service_name": "Smartcard Route",
        }
    )
    env.filters.update({"london_datetime": london_datetime, "london_date": london_date})
    return env
