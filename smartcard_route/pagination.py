"""A page of a long list, and NHS.UK's numbered pagination for it (templates/_pagination.jinja)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest


def deferred_join(items: QuerySet[Any], bottom: int, top: int) -> list[Any]:
    """Rows `bottom` to `top` of an ordered queryset, in one query that pages the ids first and
    joins only the page's rows (a "deferred join"): `... WHERE id IN (SELECT id ... ORDER BY ...
    LIMIT n OFFSET m) ORDER BY ...`.

    Paged as it stands, PostgreSQL sorts (or skips past) whole rows with every joined table
    (pharmacy, RA, LPC, reporter) joined for every row of the scope, not only the page's: for an
    owner's 18,965 issues, a sort of 5 MB on disk. The inner query sorts and skips only what the
    order needs (for CPE IT, index entries, read off the index alone); the outer joins 25 rows.
    The page keeps the queryset's joins, prefetches and chosen columns (`only`/`defer`). A
    queryset this cannot rebuild the same from its ids (annotations, extra, distinct) is sliced
    as it is, as are lists."""
    query = items.query
    plain = not query.annotations and not query.extra and not query.distinct and not query.combinator
    if not plain:
        return list(items[bottom:top])
    ids = items.values("pk")[bottom:top]
    page = items.model._default_manager.filter(pk__in=ids).order_by(*query.order_by)
    page.query.standard_ordering = query.standard_ordering  # reversed (QuerySet.reverse) or not
    page.query.select_related = query.select_related
    page.query.deferred_loading = query.deferred_loading
    page._prefetch_related_lookups = items._prefetch_related_lookups  # type: ignore[attr-defined]
    return list(page)


class EitherEndPaginator(Paginator):
    """A Paginator whose pages in the back half of an ordered queryset are read from its other end,
    and whose count stops at settings.LIST_COUNT_LIMIT.

    OFFSET makes the database walk every row before the page: the last page of a million issues
    walked a million. A page past the middle is read in the reverse order (`QuerySet.reverse()`,
    the same order backwards) with the offset counted from the end, then turned round, so it
    holds exactly the rows of the same page read forwards, and the last page costs what the first
    does; the middle page costs most (half the list). A list, or an unordered queryset, pages as
    Django's own Paginator does.

    Counting costs every row counted, however it is indexed: all of England's million issues take
    PostgreSQL 40 to 60 ms to count off the smallest index, more than the page's whole budget. So
    a queryset is counted only up to the limit (`SELECT COUNT(*) FROM (... LIMIT limit + 1)`);
    past it, `count` is the limit, `beyond_limit` is True and the pages stop there (the first
    `limit` rows, read forwards: the newest, in the lists' order). Nobody pages through 4,000 pages
    of 25; a list that long is narrowed with its filters, or downloaded whole as CSV.
    """

    beyond_limit = False

    @cached_property
    def count(self) -> int:
        items = self.object_list
        limit: int = settings.LIST_COUNT_LIMIT
        if not isinstance(items, QuerySet) or not limit:
            return super().count
        counted = items.order_by()[: limit + 1].count()
        self.beyond_limit = counted > limit
        return min(counted, limit)

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        items = self.object_list
        if not isinstance(items, QuerySet) or not items.ordered:
            return super().page(number)
        if self.beyond_limit:
            # Where the list ends is unknown past the limit: its first `limit` rows, read forwards.
            return Page(deferred_join(items, bottom, top), number, self)
        if bottom <= self.count // 2:
            return Page(deferred_join(items, bottom, top), number, self)
        rows = deferred_join(items.reverse(), self.count - top, self.count - bottom)
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
