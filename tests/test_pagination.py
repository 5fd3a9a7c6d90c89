"""smartcard_route.pagination: a page of a list and NHS.UK's numbered pagination for it."""

from __future__ import annotations

from django.test import RequestFactory

from smartcard_route.pagination import paginate


def numbers(pagination: dict) -> list[object]:
    return [item.get("number", "…") for item in pagination["items"]]


def test_it_links_the_first_last_and_neighbouring_pages_keeping_the_filters():
    request = RequestFactory().get("/issues/", {"state": "open", "page": "5"})

    page, pagination = paginate(request, list(range(100)), 10)

    assert list(page.object_list) == list(range(40, 50))
    assert pagination is not None
    assert numbers(pagination) == [1, "…", 4, 5, 6, "…", 10]
    assert pagination["previous"] == {"href": "?state=open&page=4"}
    assert pagination["next"] == {"href": "?state=open&page=6"}
    assert [item["number"] for item in pagination["items"] if item.get("current")] == [5]


def test_it_shows_the_nearest_page_for_a_bad_page_number():
    for asked, shown in (("99", 3), ("nonsense", 1), ("0", 3)):
        page, pagination = paginate(RequestFactory().get("/", {"page": asked}), list(range(25)), 10)
        assert page.number == shown, asked
    assert pagination is not None
    assert pagination["next"] is None and pagination["previous"] == {"href": "?page=2"}


def test_it_has_no_pagination_when_everything_fits_on_one_page():
    page, pagination = paginate(RequestFactory().get("/"), list(range(10)), 10)
    assert pagination is None
    assert len(page.object_list) == 10
