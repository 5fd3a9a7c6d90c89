"""The waits of DESIGN.md in working days (from settings), and how the pages and mails say them.

The one place for the length of each window and its wording ("2 working days", "half a working
day"): the clock's events, the issue page's deadline, the guidance, the report and contact-the-RA
pages, the start page and the reminder mails all read it.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings

from issues.clock import working_day_length
from issues.models import Deadline

# Who or what a window waits for, as the clock's events say it ("No longer waiting for the LPC.").
WAITING_FOR: dict[str, str] = {
    Deadline.RA_REPLY: "the RA's reply",
    Deadline.LPC_ACTION: "the LPC",
    Deadline.CPE_TRIAGE: "CPE IT's triage",
    Deadline.PHARMACY_UPDATE: "the pharmacy's update",
    Deadline.LPC_FOLLOW_UP: "the LPC's follow-up",
}


def window_days(due_kind: str, *, is_emergency: bool) -> float:
    """The length of the wait for `due_kind`, in working days; the RA's is shorter in an emergency."""
    if due_kind == Deadline.RA_REPLY:
        return float(settings.WINDOW_RA_REPLY_EMERGENCY_DAYS if is_emergency else settings.WINDOW_RA_REPLY_DAYS)
    windows: dict[str, float] = {
        Deadline.LPC_ACTION: settings.WINDOW_LPC_ACTION_DAYS,
        Deadline.CPE_TRIAGE: settings.WINDOW_CPE_TRIAGE_DAYS,
        Deadline.PHARMACY_UPDATE: settings.WINDOW_PHARMACY_UPDATE_DAYS,
        Deadline.LPC_FOLLOW_UP: settings.WINDOW_LPC_FOLLOW_UP_DAYS,
    }
    return float(windows[due_kind])


def working_days_in_words(days: float) -> str:
    """2 -> '2 working days', 1 -> '1 working day', 0.5 -> 'half a working day'."""
    if days == 0.5:
        return "half a working day"
    number = f"{days:g}"
    return f"{number} working day" if days == 1 else f"{number} working days"


def window_in_words(due_kind: str, *, is_emergency: bool) -> str:
    """The wait for `due_kind` in words: 'RA reply' -> '2 working days' ('half a working day' in
    an emergency)."""
    return working_days_in_words(window_days(due_kind, is_emergency=is_emergency))


def working_time_in_words(elapsed: timedelta) -> str:
    """Working time that has passed, in whole working days: '4 working days', '1 working day',
    'less than a working day'."""
    days = math.floor(elapsed / working_day_length())
    return working_days_in_words(days) if days >= 1 else "less than a working day"
