"""The working-time clock: DESIGN.md's worked examples, bank holidays, clock changes and properties."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from issues.clock import (
    add_working_days,
    is_working_day,
    is_working_time,
    next_opening,
    subtract_working_days,
    working_day_length,
    working_time_between,
)

LONDON = ZoneInfo("Europe/London")
DAY = timedelta(hours=8)


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # DESIGN.md's four worked examples.
        (london(2026, 11, 30, 10, 0), 2, london(2026, 12, 2, 10, 0)),
        (london(2026, 11, 27, 16, 30), 2, london(2026, 12, 1, 16, 30)),
        (london(2026, 12, 24, 10, 0), 2, london(2026, 12, 30, 10, 0)),
        (london(2026, 11, 28, 11, 0), 2, london(2026, 12, 1, 17, 0)),
    ],
    ids=["monday", "friday-afternoon", "christmas-and-substitute-boxing-day", "saturday"],
)
def test_it_gives_the_worked_examples_of_the_design(start: datetime, days: float, due: datetime) -> None:
    assert add_working_days(start, days) == due


@pytest.mark.parametrize(
    ("end", "days", "start"),
    [
        # The worked examples backwards; a Saturday start counts from Monday's opening, so the
        # latest moment two working days before Tuesday's close is Monday's opening.
        (london(2026, 12, 2, 10, 0), 2, london(2026, 11, 30, 10, 0)),
        (london(2026, 12, 1, 16, 30), 2, london(2026, 11, 27, 16, 30)),
        (london(2026, 12, 30, 10, 0), 2, london(2026, 12, 24, 10, 0)),
        (london(2026, 12, 1, 17, 0), 2, london(2026, 11, 30, 9, 0)),
        # An end outside working hours counts back from the previous close.
        (london(2026, 12, 25, 12, 0), 0.5, london(2026, 12, 24, 13, 0)),
        (london(2026, 11, 30, 8, 0), 0.25, london(2026, 11, 27, 15, 0)),
    ],
    ids=["monday", "friday-afternoon", "christmas", "to-an-opening", "from-a-bank-holiday", "before-opening"],
)
def test_it_counts_working_days_back(end: datetime, days: float, start: datetime) -> None:
    assert subtract_working_days(end, days) == start


def test_it_skips_easter_from_good_friday_to_easter_monday() -> None:
    # Thursday 2 April 2026 14:00; Good Friday 3 April and Easter Monday 6 April are bank holidays.
    assert add_working_days(london(2026, 4, 2, 14, 0), 2) == london(2026, 4, 8, 14, 0)


def test_it_counts_a_substitute_bank_holiday_as_a_holiday() -> None:
    assert not is_working_day(datetime(2026, 12, 28).date())  # Boxing Day (observed)
    assert is_working_day(datetime(2026, 12, 29).date())


def test_it_keeps_wall_clock_hours_across_the_spring_clock_change() -> None:
    # Clocks go forward on Sunday 29 March 2026: Friday 10:00 + 1 day is Monday 10:00 BST.
    due = add_working_days(london(2026, 3, 27, 10, 0), 1)
    assert due == london(2026, 3, 30, 10, 0)
    assert due.utcoffset() == timedelta(hours=1)


def test_it_keeps_wall_clock_hours_across_the_autumn_clock_change() -> None:
    # Clocks go back on Sunday 25 October 2026.
    due = add_working_days(london(2026, 10, 23, 15, 0), 1)
    assert due == london(2026, 10, 26, 15, 0)
    assert due.utcoffset() == timedelta(0)
    assert working_time_between(london(2026, 10, 23, 15, 0), due) == DAY


def test_it_counts_a_start_in_utc_in_london_time() -> None:
    # 09:30 UTC in summer is 10:30 in London.
    assert add_working_days(datetime(2026, 6, 1, 9, 30, tzinfo=UTC), 0.5) == london(2026, 6, 1, 14, 30)


def test_it_answers_in_london_time() -> None:
    due = add_working_days(datetime(2026, 6, 1, 9, 30, tzinfo=UTC), 1)
    assert due.tzinfo == LONDON


def test_it_starts_a_request_made_before_opening_at_opening() -> None:
    assert add_working_days(london(2026, 12, 1, 7, 0), 0.5) == london(2026, 12, 1, 13, 0)


def test_it_ends_an_exact_day_at_the_close_not_the_next_opening() -> None:
    assert add_working_days(london(2026, 12, 1, 9, 0), 1) == london(2026, 12, 1, 17, 0)


def test_it_gives_half_a_day_for_an_emergency() -> None:
    assert add_working_days(london(2026, 12, 1, 15, 0), 0.5) == london(2026, 12, 2, 11, 0)


def test_it_reads_the_working_hours_from_settings(settings) -> None:
    settings.WORKING_DAY_START = "08:30"
    settings.WORKING_DAY_END = "18:00"
    assert working_day_length() == timedelta(hours=9, minutes=30)
    assert add_working_days(london(2026, 12, 1, 8, 0), 1) == london(2026, 12, 1, 18, 0)


def test_it_measures_working_time_between_two_moments() -> None:
    assert working_time_between(london(2026, 11, 27, 16, 30), london(2026, 12, 1, 16, 30)) == 2 * DAY
    assert working_time_between(london(2026, 11, 28, 9, 0), london(2026, 11, 29, 23, 0)) == timedelta(0)
    assert working_time_between(london(2026, 12, 2, 10, 0), london(2026, 11, 30, 10, 0)) == -2 * DAY


def test_it_knows_working_time() -> None:
    assert is_working_time(london(2026, 12, 1, 17, 0))
    assert not is_working_time(london(2026, 12, 1, 17, 1))
    assert not is_working_time(london(2026, 12, 25, 12, 0))
    assert next_opening(london(2026, 12, 24, 18, 0)) == london(2026, 12, 29, 9, 0)


def test_it_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 12, 1, 10, 0), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_time_between(datetime(2026, 12, 1, 10, 0), london(2026, 12, 2, 10, 0))


def test_it_refuses_negative_windows() -> None:
    with pytest.raises(ValueError):
        add_working_days(london(2026, 12, 1, 10, 0), -1)
    with pytest.raises(ValueError):
        subtract_working_days(london(2026, 12, 1, 10, 0), -1)
    with pytest.raises(ValueError, match="timezone-aware"):
        subtract_working_days(datetime(2026, 12, 1, 10, 0), 1)


# Properties -----------------------------------------------------------------------------------

# Any moment from 2025 to 2028 (Easter, Christmas, clock changes included), to the minute.
moments = st.integers(min_value=0, max_value=4 * 365 * 24 * 60).map(
    lambda minutes: (datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)).astimezone(LONDON)
)
# Windows in quarter days up to 20 working days, so sums are exact.
windows = st.integers(min_value=0, max_value=80).map(lambda quarters: quarters / 4)


def _in_working_hours(moment: datetime) -> bool:
    return is_working_time(moment)


@hypothesis_settings(max_examples=300, deadline=None)
@given(start=moments, days=windows)
def test_it_always_ends_within_working_hours(start: datetime, days: float) -> None:
    due = add_working_days(start, days)
    assert due >= start or days == 0
    assert _in_working_hours(due)


@hypothesis_settings(max_examples=300, deadline=None)
@given(start=moments, a=windows, b=windows)
def test_it_is_monotonic(start: datetime, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert add_working_days(start, low) <= add_working_days(start, high)


@hypothesis_settings(max_examples=300, deadline=None)
@given(start=moments, days=windows)
def test_it_measures_back_exactly_the_window_it_added(start: datetime, days: float) -> None:
    assert working_time_between(start, add_working_days(start, days)) == DAY * days


@hypothesis_settings(max_examples=300, deadline=None)
@given(start=moments.filter(is_working_time), a=windows, b=windows)
def test_it_adds_windows_one_after_the_other(start: datetime, a: float, b: float) -> None:
    assert add_working_days(add_working_days(start, a), b) == add_working_days(start, a + b)


@hypothesis_settings(max_examples=200, deadline=None)
@given(start=moments, a=windows)
def test_it_reaches_the_earliest_moment(start: datetime, a: float) -> None:
    """One minute before the due moment, less than the window has passed."""
    due = add_working_days(start, a)
    if a > 0:
        assert working_time_between(start, due - timedelta(minutes=1)) < DAY * a


@hypothesis_settings(max_examples=300, deadline=None)
@given(end=moments, days=windows)
def test_it_counts_back_exactly_the_window(end: datetime, days: float) -> None:
    start = subtract_working_days(end, days)
    assert start <= end
    assert working_time_between(start, end) == DAY * days
    assert _in_working_hours(start)


@hypothesis_settings(max_examples=200, deadline=None)
@given(end=moments, days=windows)
def test_it_counts_back_to_the_latest_moment(end: datetime, days: float) -> None:
    """One minute after the start found, less than the window passes before `end`."""
    start = subtract_working_days(end, days)
    if days > 0:
        assert working_time_between(start + timedelta(minutes=1), end) < DAY * days


def _after_opening(moment: datetime) -> bool:
    return is_working_time(moment) and moment.astimezone(LONDON).time() != time(9, 0)


@hypothesis_settings(max_examples=300, deadline=None)
@given(end=moments.filter(_after_opening), days=windows)
def test_it_undoes_add_working_days(end: datetime, days: float) -> None:
    # (At an opening, adding back ends at the previous close: the same moment in working time.)
    assert add_working_days(subtract_working_days(end, days), days) == end


@hypothesis_settings(max_examples=100, deadline=None)
@given(start=moments)
def test_it_refuses_the_same_moment_without_a_zone(start: datetime) -> None:
    with pytest.raises(ValueError):
        add_working_days(start.replace(tzinfo=None), 1)


def _working_time_day_by_day(a: datetime, b: datetime) -> timedelta:
    """Each day's working hours between a and b, added up: the rule as DESIGN.md states it."""
    local_a, local_b = a.astimezone(LONDON).replace(tzinfo=None), b.astimezone(LONDON).replace(tzinfo=None)
    total, day = timedelta(0), local_a.date()
    while day <= local_b.date():
        if is_working_day(day):
            opening, closing = datetime.combine(day, time(9)), datetime.combine(day, time(17))
            total += max(timedelta(0), min(closing, local_b) - max(opening, local_a))
        day += timedelta(days=1)
    return total


@hypothesis_settings(max_examples=500, deadline=None)
@given(start=moments, span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)))
def test_it_measures_between_two_moments_what_each_day_adds_up_to(start: datetime, span: timedelta) -> None:
    # working_time_between counts from a fixed origin (constant time for the figures): the same
    # as adding up the days, across clock changes, bank holidays, years and the origin itself.
    assert working_time_between(start, start + span) == _working_time_day_by_day(start, start + span)
    assert working_time_between(start + span, start) == -_working_time_day_by_day(start, start + span)


def test_it_measures_across_the_origin_and_years_before_it() -> None:
    spans = [(london(2019, 12, 24, 10), london(2026, 1, 2, 12)), (london(2023, 12, 29, 16), london(2024, 1, 2, 10))]
    for a, b in spans:
        assert working_time_between(a, b) == _working_time_day_by_day(a, b)
