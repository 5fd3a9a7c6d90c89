"""The header navigation: which links a user sees depends on their roles (DESIGN.md, "People").

Links are named by URL name (a string, so this module imports no app's views). A name that does
not resolve (its app is not installed yet, or a page was removed) is left out instead of breaking
every page. Pages get the links from the `navigation` context processor (settings.TEMPLATES), so
the plumbing's Jinja2 environment needs no import of the directory.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from directory.roles import Roles, user_roles
from smartcard_route.jinja2 import url_or_none


def _links_for(roles: Roles) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if roles.pharmacy_staff or roles.pharmacy_owner:
        links += [("issues:list", "Your issues"), ("issues:report", "Report a problem")]
    elif roles.lpc_officer or roles.cpe_it:
        links.append(("issues:list", "Issues"))
    if roles.lpc_officer:
        links.append(("dashboards:lpc", "LPC dashboard"))
    if roles.cpe_it:
        links += [
            ("dashboards:cpe_it", "CPE IT"),
            ("cases:list", "Systemic cases"),
            ("issues:unmatched_mail", "Unmatched mail"),
        ]
    if roles.directory_manager:
        links += [
            ("directory:manage", "Manage the directory"),
            ("directory:correction_reports", "Correction reports"),
            ("subject_access:search", "Subject access"),
        ]
    if roles.pharmacy_staff or roles.pharmacy_owner or roles.lpc_officer or roles.cpe_it:
        links.append(("notifications:notification_preferences", "Reminder emails"))  # the people nudges go to
    links.append(("directory:pharmacy_search", "Directory"))
    return links


def nav_items(request: HttpRequest | None) -> list[dict[str, Any]]:
    """Header links for NHS.UK's header macro; the link whose address best matches the page is current."""
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return []
    cached: list[dict[str, Any]] | None = getattr(request, "_smartcard_nav_items", None)
    if cached is not None:
        return cached
    items: list[dict[str, Any]] = []
    for viewname, text in _links_for(user_roles(user)):
        href = url_or_none(viewname)
        if href is not None:
            items.append({"href": href, "text": text})
    matching = [item for item in items if request.path.startswith(item["href"])]
    if matching:
        best = max(matching, key=lambda item: len(item["href"]))
        best["active"] = True
        best["current"] = request.path == best["href"]
    request._smartcard_nav_items = items  # type: ignore[attr-defined]
    return items


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `nav_items`, the header links, read (one query) only if the page draws them.

    A page rendered without a request (the 500 page) gets no `nav_items`, hence no navigation.
    """
    return {"nav_items": SimpleLazyObject(lambda: nav_items(request))}
