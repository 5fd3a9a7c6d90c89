"""The working-time clock (DESIGN.md, "The working-time clock").

Working time is Monday to Friday between settings.WORKING_DAY_START and WORKING_DAY_END in
settings.WORKING_TIME_ZONE (Europe/London), except England's bank holidays (substitute days
included, from `holidays`). A window of N working days is N times the length of a working day,
counted in working time from the moment of the request; a request outside working hours starts
counting at the next opening.

Everything is computed in local wall-clock time, so a working day is always 09:00 to 17:00 on the
clock on the wall, whether it falls in GMT or BST: the clock changes happen at night, outside
working hours, and never stretch or shrink a working day.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

__all__ = [
    "add_working_days",
    "is_working_day",
    "is_working_time",
    "next_opening",
    "subtract_working_days",
    "working_day_length",
    "working_time_between",
    "working_zone",
]


def working_zone() -> ZoneInfo:
    return _zone(settings.WORKING_TIME_ZONE)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@functools.lru_cache(maxsize=16)
def _parse_time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def _hours() -> tuple[time, time]:
    start, end = _parse_time(settings.WORKING_DAY_START), _parse_time(settings.WORKING_DAY_END)
    if end <= start:
        raise ValueError("WORKING_DAY_END must be after WORKING_DAY_START.")
    return start, end


def working_day_length() -> timedelta:
    start, end = _hours()
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)


@functools.lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (a naive datetime is ambiguous).")


def _to_local_naive(value: datetime) -> datetime:
    """Local wall-clock time without tzinfo: the clock works on the wall clock."""
    return value.astimezone(working_zone()).replace(tzinfo=None, fold=0)


def _from_local_naive(value: datetime) -> datetime:
    return value.replace(tzinfo=working_zone())


def _open_close(day: date) -> tuple[datetime, datetime]:
    start, end = _hours()
    return datetime.combine(day, start), datetime.combine(day, end)


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _previous_working_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def _normalise_local(cursor: datetime) -> datetime:
    """The wall-clock moment counting starts from: `cursor` if it is within working hours
    (the close included), else the next opening."""
    day = cursor.date()
    if is_working_day(day):
        opening, closing = _open_close(day)
        if cursor < opening:
            return opening
        if cursor <= closing:
            return cursor
    return _open_close(_next_working_day(day))[0]


def next_opening(moment: datetime) -> datetime:
    """`moment` if it is within working hours, else the next opening (aware, local time)."""
    _require_aware(moment, "moment")
    return _from_local_naive(_normalise_local(_to_local_naive(moment)))


def is_working_time(moment: datetime) -> bool:
    """True between opening and close (inclusive) on a working day."""
    _require_aware(moment, "moment")
    local = _to_local_naive(moment)
    if not is_working_day(local.date()):
        return False
    opening, closing = _open_close(local.date())
    return opening <= local <= closing


def add_working_days(start: datetime, days: float) -> datetime:
    """The earliest moment at which `days` working days of working time have passed since `start`.

    `start` must be aware; the result is an aware datetime in the working time zone. A start outside
    working hours counts from the next opening; a window that uses up a day exactly ends at that
    day's close (not at the next opening).
    """
    _require_aware(start, "start")
    if days < 0:
        raise ValueError("days must not be negative.")
    remaining = working_day_length() * days
    cursor = _normalise_local(_to_local_naive(start))
    while True:
        closing = _open_close(cursor.date())[1]
        available = closing - cursor
        if remaining <= available:
            return _from_local_naive(cursor + remaining)
        remaining -= available
        cursor = _open_close(_next_working_day(cursor.date()))[0]


def subtract_working_days(end: datetime, days: float) -> datetime:
    """The latest moment from which `days` working days of working time have passed by `end`:
    add_working_days backwards, so that working_time_between(result, end) is the window.

    `end` must be aware; the result is an aware datetime in the working time zone. An `end` outside
    working hours counts back from the previous close; a window that uses up a day exactly starts
    at that day's opening (not at the previous close).
    """
    _require_aware(end, "end")
    if days < 0:
        raise ValueError("days must not be negative.")
    remaining = working_day_length() * days
    cursor = _normalise_local_backwards(_to_local_naive(end))
    while True:
        opening = _open_close(cursor.date())[0]
        available = cursor - opening
        if remaining <= available:
            return _from_local_naive(cursor - remaining)
        remaining -= available
        cursor = _open_close(_previous_working_day(cursor.date()))[1]


def _normalise_local_backwards(cursor: datetime) -> datetime:
    """The wall-clock moment counting back starts from: `cursor` if it is within working hours
    (the opening included), else the previous close."""
    day = cursor.date()
    if is_working_day(day):
        opening, closing = _open_close(day)
        if cursor > closing:
            return closing
        if cursor >= opening:
            return cursor
    return _open_close(_previous_working_day(day))[1]


def working_time_between(a: datetime, b: datetime) -> timedelta:
    """The working time that passes from `a` to `b` (negative when `b` is before `a`)."""
    _require_aware(a, "a")
    _require_aware(b, "b")
    if b < a:
        return -working_time_between(b, a)
    # The sum over the days from a to b of each working day's hours between them is the working
    # time from a fixed origin to b less that to a: constant time, however far apart (the figures
    # add up hundreds of thousands of these).
    hours = _hours()
    return _working_time_since_origin(_to_local_naive(b), hours) - _working_time_since_origin(_to_local_naive(a), hours)


_ORIGIN = date(2024, 1, 1)  # a Monday, near the issues' dates: what _working_days_before counts from


@functools.lru_cache(maxsize=64)
def _weekday_holidays(year: int) -> tuple[date, ...]:
    return tuple(sorted(day for day in _bank_holidays(year) if day.weekday() < 5))


@functools.lru_cache(maxsize=8192)
def _working_days_before(day: date) -> int:
    """The working days from _ORIGIN up to `day`, `day` not included (negative before _ORIGIN)."""
    weeks, rest = divmod((day - _ORIGIN).days, 7)
    weekdays = weeks * 5 + min(rest, 5)
    first, last = (_ORIGIN, day) if day >= _ORIGIN else (day, _ORIGIN)
    off = sum(
        1 for year in range(first.year, last.year + 1) for holiday in _weekday_holidays(year) if first <= holiday < last
    )
    return weekdays - off if day >= _ORIGIN else weekdays + off


def _working_time_since_origin(local: datetime, hours: tuple[time, time]) -> timedelta:
    """The working time from _ORIGIN's midnight to `local` (local wall-clock time, naive)."""
    start, end = hours
    day = local.date()
    opening, closing = datetime.combine(day, start), datetime.combine(day, end)
    elapsed = (closing - opening) * _working_days_before(day)
    if is_working_day(day):
        elapsed += min(max(local, opening), closing) - opening
    return elapsed
