"""A page of a long list, and NHS.UK's numbered pagination for it (templates/_pagination.jinja)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest


class EitherEndPaginator(Paginator):
    """A Paginator whose pages in the back half of an ordered queryset are read from its other end.

    OFFSET makes the database walk every row before the page: the last page of a million issues
    walked a million. A page past the middle is read in the reverse order (`QuerySet.reverse()`,
    the same order backwards) with the offset counted from the end, then turned round, so it
    holds exactly the rows of the same page read forwards, and the last page costs what the first
    does; the middle page costs most (half the list). A list, or an unordered queryset, pages as
    Django's own Paginator does.
    """

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        items = self.object_list
        if not isinstance(items, QuerySet) or not items.ordered or bottom <= self.count // 2:
            return super().page(number)
        rows = list(items.reverse()[self.count - top : self.count - bottom])
        rows.reverse()
        return Page(rows, number, self)


def paginate(
    request: HttpRequest, items: QuerySet[Any] | Sequence[Any], per_page: int
) -> tuple[Page[Any], dict[str, Any] | None]:
    """The page the request asks for (a bad or too-high page number gives the nearest page), and
    the parameters of NHS.UK's numbered pagination: the first and last pages and those either side
    of this one, with gaps as ellipses, each link keeping the request's other parameters (filters).
    None when everything fits on one page."""
    page = EitherEndPaginator(items, per_page).get_page(request.GET.get("page"))
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
