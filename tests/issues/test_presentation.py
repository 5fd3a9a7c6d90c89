"""How an issue's age reads (issues.presentation.time_ago_in_words): the words Django's
timesince(depth=1) gives, for any two moments, and the edges of the calendar months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils.timesince import timesince
from hypothesis import given, settings
from hypothesis import strategies as st

from issues.presentation import time_ago_in_words

MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC))


@settings(max_examples=2000, deadline=None)
@given(then=MOMENTS, now=MOMENTS)
def test_it_says_what_timesince_says_in_one_unit(then: datetime, now: datetime) -> None:
    expected = timesince(then, now=now, depth=1)
    expected = "less than a minute" if expected.startswith("0\xa0") else expected
    assert time_ago_in_words(then, now=now) == expected


@settings(max_examples=500, deadline=None)
@given(now=MOMENTS, seconds=st.integers(min_value=0, max_value=3 * 24 * 3600))
def test_it_agrees_within_days_as_well(now: datetime, seconds: int) -> None:
    """The short units, where random pairs of moments (years apart) seldom land."""
    then = now - timedelta(seconds=seconds)
    expected = timesince(then, now=now, depth=1)
    expected = "less than a minute" if expected.startswith("0\xa0") else expected
    assert time_ago_in_words(then, now=now) == expected


@pytest.mark.parametrize(
    ("then", "now", "words"),
    [
        (datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 1, 9, 0, 59), "less than a minute"),
        (datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 1, 8, 0), "less than a minute"),  # in the future
        (datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 1, 9, 1), "1\xa0minute"),
        (datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 1, 11, 59), "2\xa0hours"),
        (datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 7, 9, 0), "6\xa0days"),
        (datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 29, 9, 0), "4\xa0weeks"),
        (datetime(2026, 1, 31, 9, 0), datetime(2026, 2, 28, 9, 0), "4\xa0weeks"),  # not a month yet
        (datetime(2026, 1, 31, 9, 0), datetime(2026, 3, 1, 0, 0), "1\xa0month"),  # February has no 31st
        (datetime(2025, 12, 1, 9, 0), datetime(2026, 12, 1, 8, 59), "11\xa0months"),
        (datetime(2025, 12, 1, 9, 0), datetime(2026, 12, 1, 9, 0), "1\xa0year"),
    ],
)
def test_it_counts_calendar_months(then: datetime, now: datetime, words: str) -> None:
    assert time_ago_in_words(then.replace(tzinfo=UTC), now=now.replace(tzinfo=UTC)) == words
