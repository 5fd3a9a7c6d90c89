"""Dates and times as people read them (smartcard_route.dates): one format, written once."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcard_route.dates import day_in_words, moment_in_words

LONDON = ZoneInfo("Europe/London")
ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        (datetime(2026, 12, 2, 17, 0, tzinfo=LONDON), "Wednesday 2 December, 17:00"),
        (datetime(2026, 6, 3, 9, 0, tzinfo=ZoneInfo("UTC")), "Wednesday 3 June, 10:00"),  # British Summer Time
        (datetime(2027, 1, 4, 9, 5, tzinfo=LONDON), "Monday 4 January 2027, 09:05"),  # not this year
        (datetime(2025, 12, 31, 23, 59, tzinfo=LONDON), "Wednesday 31 December 2025, 23:59"),
    ],
)
def test_it_says_a_moment_with_the_year_only_when_it_is_not_this_year(moment, words):
    assert moment_in_words(moment, now=NOW) == words


def test_it_says_the_year_always_for_text_kept_for_later():
    assert moment_in_words(datetime(2026, 12, 2, 17, 0, tzinfo=LONDON), with_year=True) == (
        "Wednesday 2 December 2026, 17:00"
    )


def test_it_says_a_day_the_same_way():
    assert day_in_words(date(2026, 12, 2), now=NOW) == "2 December"
    assert day_in_words(date(2025, 12, 2), now=NOW) == "2 December 2025"
    assert day_in_words(datetime(2026, 12, 2, 23, 30, tzinfo=ZoneInfo("UTC")), now=NOW) == "2 December"


def test_it_says_nothing_for_no_date():
    assert moment_in_words(None) == "" and day_in_words(None) == ""


# Formats a date for people: strftime and date_format, or a day or month name directive.
FORMATTING = re.compile(r"strftime\(|date_format\(|%[AaBb]\b|\|\s*date\b")


def test_it_is_the_only_place_that_formats_a_date_for_people():
    """Pages (the london_datetime and london_date filters), mails, events and guidance call it."""
    sources = [
        path
        for folder in ("issues", "directory", "smartcard_route", "templates")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".jinja", ".txt", ".html"} and "migrations" not in path.parts
    ]
    assert len(sources) > 50
    formatting = [
        str(path.relative_to(ROOT))
        for path in sources
        if path.name != "dates.py" and FORMATTING.search(path.read_text(encoding="utf-8"))
    ]
    assert formatting == []


def test_it_writes_the_names_as_djangos_own_date_format_does():
    """The names are written out for speed (smartcard_route.dates): the same text as Django's
    date_format in the site's language, every day of two years, across both clock changes."""
    from django.utils import timezone
    from django.utils.formats import date_format

    start = datetime(2025, 1, 1, 0, 30, tzinfo=LONDON)
    now = datetime(2026, 6, 1, 12, 0, tzinfo=LONDON)
    for hours in range(0, 2 * 366 * 24, 7):
        local = timezone.localtime(start + timedelta(hours=hours))
        this_year = local.year == 2026
        assert moment_in_words(local, now=now) == date_format(local, "l j F, H:i" if this_year else "l j F Y, H:i")
        assert day_in_words(local.date(), now=now) == date_format(local.date(), "j F" if this_year else "j F Y")
