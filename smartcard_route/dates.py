"""Dates and times as people in England read them: each format is written here, once.

Pages, mails, timeline events, guidance and reminders all call these (the pages through the
`london_datetime` and `london_date` filters of smartcard_route.jinja2), so one moment reads the same
everywhere: "Wednesday 2 December, 17:00" in the site's time zone (Europe/London), with the year
only when it is not this year's.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, tzinfo

from django.utils import timezone

# The names, written out: the site is in English (LANGUAGE_CODE en-gb), and a list a page shows
# formats hundreds of moments (Django's date_format looks up its format and each name's
# translation every time: a third of the CPE IT dashboard's Python time).
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _this_year(now: datetime | None, zone: tzinfo) -> int:
    return _year_of(now or timezone.now(), zone)


@functools.lru_cache(maxsize=16)
def _year_of(now: datetime, zone: tzinfo) -> int:
    """The year of `now` in `zone`: a table's rows share one `now`, so its local time is worked
    out once, not for every moment the table prints."""
    return timezone.localtime(now, zone).year


def moment_in_words(moment: datetime | None, *, now: datetime | None = None, with_year: bool = False) -> str:
    """'Wednesday 2 December, 17:00'; 'Wednesday 2 December 2025, 17:00' when it is not the year
    of `now` (default: the present), or always with `with_year` (text stored to be read in later
    years, like a timeline event's). '' for None."""
    if moment is None:
        return ""
    # The zone looked up once: each lookup reads a thread-local (a table's rows print hundreds).
    zone = timezone.get_current_timezone()
    local = timezone.localtime(moment, zone)
    year = f" {local.year}" if with_year or local.year != _this_year(now, zone) else ""
    return f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}{year}, {local.hour:02}:{local.minute:02}"


def day_in_words(day: date | datetime | None, *, now: datetime | None = None) -> str:
    """'2 December'; '2 December 2025' when it is not the year of `now`. '' for None."""
    if day is None:
        return ""
    zone = timezone.get_current_timezone()
    if isinstance(day, datetime):
        day = timezone.localtime(day, zone).date()
    year = "" if day.year == _this_year(now, zone) else f" {day.year}"
    return f"{day.day} {MONTHS[day.month - 1]}{year}"


def moment_iso(moment: datetime | None, *, zone: tzinfo | None = None) -> str:
    """'2026-12-02T17:00+00:00': ISO 8601 in the site's time zone (Europe/London) with its offset,
    to the minute, for files that programs and spreadsheets read (the CSV exports): unambiguous
    across the clock changes, and sorting as text sorts by time. '' for None. `zone`: the site's
    zone, looked up once by a caller writing many (timezone.get_current_timezone)."""
    if moment is None:
        return ""
    return timezone.localtime(moment, zone).isoformat(timespec="minutes")


def moment_in_filename(moment: datetime) -> str:
    """'20261202-170000': the moment in the site's time zone, for a downloaded file's name (sorts
    as text by time; no characters a file system refuses)."""
    return timezone.localtime(moment).strftime("%Y%m%d-%H%M%S")
