"""The Jinja2 environment for pages: NHS.UK frontend macros plus a few Django helpers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, PackageLoader, select_autoescape

from smartcard_route.navigation import nav_items, url_or_none


def url(viewname: str, *args: Any, **kwargs: Any) -> str:
    return reverse(viewname, args=args or None, kwargs=kwargs or None)


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


def environment(**options: Any) -> Environment:
    # Django passes the loader it built from TEMPLATES["DIRS"]; NHS.UK's macros come after it.
    project_loader = options.pop("loader")
    # nhsuk-frontend-jinja reads optional nested parameters, which needs ChainableUndefined.
    options["undefined"] = ChainableUndefined
    # HTML is escaped; the text parts of emails (templates/emails/*.txt) are plain text, where an
    # escaped apostrophe would reach the reader as "&#39;". Django's backend passes autoescape=True.
    options.pop("autoescape", None)
    env = Environment(
        loader=ChoiceLoader([project_loader, PackageLoader("nhsuk_frontend_jinja")]),
        autoescape=select_autoescape(
            enabled_extensions=(), disabled_extensions=("txt",), default_for_string=True, default=True
        ),
        **options,
    )
    env.globals.update(
        {
            "url": url,
            "static": static,
            "get_messages": messages.get_messages,
            "nav_items": nav_items,
            "url_or_none": url_or_none,
            "service_name": "Smartcard Route",
        }
    )
    env.filters.update({"london_datetime": london_datetime, "london_date": london_date})
    return env
