"""The Jinja2 environment for pages: NHS.UK frontend macros plus a few Django helpers.

What an app adds to every page (the header navigation: directory.navigation) comes through a
context processor named in settings.TEMPLATES, so the plumbing imports no app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from smartcard_route.dates import day_in_words, moment_in_words
from smartcard_route.fragments import SLOT, kept_html


def url(viewname: str, *args: Any, **kwargs: Any) -> str:
    return reverse(viewname, args=args or None, kwargs=kwargs or None)


def url_or_none(viewname: str, *args: Any, **kwargs: Any) -> str | None:
    """The URL of a named page, or None when no such page exists (yet)."""
    try:
        return url(viewname, *args, **kwargs)
    except NoReverseMatch:
        return None


def nhsuk_stylesheet() -> str:
    """NHS.UK frontend's CSS as compiled from scss/: with the NHS web font only where NHS_FONTS allows it."""
    return static("build/nhsuk-frontend-nhs-fonts.css" if settings.NHS_FONTS else "build/nhsuk-frontend.css")


def _hashable(value: Any) -> Any:
    """A key of lists and mappings as nested tuples (lazy objects read through)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(name), _hashable(item)) for name, item in value.items()))
    if isinstance(value, (list, tuple)) or (hasattr(value, "__iter__") and not isinstance(value, str)):
        return tuple(_hashable(item) for item in value)
    return value


def kept(key: Any, slot: str = "", *, caller: Callable[[], str]) -> Markup:
    """`{% call kept(key, slot=...) %}...{% endcall %}`: the block's HTML drawn once per key and
    kept, with `slot` where the block wrote `kept_slot` (smartcard_route.fragments.kept_html). The
    key must hold everything the block reads."""
    return kept_html(_hashable(key), caller, slot)


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
            "nhsuk_stylesheet": nhsuk_stylesheet,
            "get_messages": messages.get_messages,
            "url_or_none": url_or_none,
            "service_name": "Smartcard Route",
            "kept": kept,
            "kept_slot": SLOT,
        }
    )
    # The one format of a moment and of a day (smartcard_route.dates).
    env.filters.update({"london_datetime": moment_in_words, "london_date": day_in_words})
    return env
