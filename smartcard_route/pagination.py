"""A page of a long list, and NHS.UK's numbered pagination for it (templates/_pagination.jinja)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest


def paginate(
    request: HttpRequest, items: QuerySet[Any] | Sequence[Any], per_page: int
) -> tuple[Page[Any], dict[str, Any] | None]:
    """The page the request asks for (a bad or too-high page number gives the nearest page), and
    the parameters of NHS.UK's numbered pagination: the first and last pages and those either side
    of this one, with gaps as ellipses, each link keeping the request's other parameters (filters).
    None when everything fits on one page."""
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    if page.paginator.num_pages <= 1:
        return page, None

    def href(number: int) -> str:
        params = request.GET.copy()
        params["page"] = str(number)
        return "?" + params.urlencode()

    numbers = sorted(
        {1, page.paginator.num_pages, page.number - 1, page.number, page.number + 1} & set(page.paginator.page_range)
    )
    links: list[dict[str, Any]] = []
    for previous, number in zip([0, *numbers], numbers, strict=False):
        if number - previous > 1:
            links.append({"ellipsis": True})
        links.append({"number": number, "href": href(number), "current": number == page.number})
    pagination = {
        "previous": {"href": href(page.number - 1)} if page.has_previous() else None,
        "next": {"href": href(page.number + 1)} if page.has_next() else None,
        "items": links,
    }
    return page, pagination
