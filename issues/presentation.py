"""How an issue reads on the pages: its status tag, its deadline in words, its age.

Nothing here queries the database or changes anything; the views and templates call it with
issues they already fetched through issues.selectors.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince

from issues.models import Deadline, Issue, State
from issues.windows import window_days, working_days_in_words

# NHS.UK tag colours: grey while the pharmacy works on it, blue/purple while an outside body is
# awaited, orange when the LPC is involved, red once it reached CPE IT, green when fixed.
STATE_TAG_COLOURS: dict[str, str] = {
    State.IN_PHARMACY: "grey",
    State.CIS_SELF_SERVICE: "aqua-green",
    State.RA_CONTACTED: "blue",
    State.LPC_CC: "orange",
    State.ESCALATED: "red",
    State.RESOLVED: "green",
    State.WITHDRAWN: "white",
}


def state_tag(state: str) -> dict[str, str]:
    """The NHS.UK tag macro's parameters for a state."""
    return {"text": State(state).label, "colour": STATE_TAG_COLOURS.get(state, "grey")}


def moment_in_words(moment: datetime, *, now: datetime | None = None) -> str:
    """'Wednesday 30 December, 10:00' in Europe/London; the year only when it is not this year."""
    local = timezone.localtime(moment)
    this_year = timezone.localtime(now or timezone.now()).year
    return date_format(local, "l j F, H:i" if local.year == this_year else "l j F Y, H:i")


def deadline_text(issue: Issue, *, now: datetime | None = None) -> str:
    """'RA reply due by Wednesday 30 December, 10:00: 2 working days'; '' when nothing is awaited."""
    if issue.due_at is None or not issue.due_kind:
        return ""
    text = f"{Deadline(issue.due_kind).label} due by {moment_in_words(issue.due_at, now=now)}"
    days = window_days(issue.due_kind, is_emergency=issue.is_emergency)
    return f"{text}: {working_days_in_words(days)}" if days else text


def is_overdue(issue: Issue, *, now: datetime | None = None) -> bool:
    return issue.due_at is not None and issue.due_at <= (now or timezone.now())


def overdue_text(issue: Issue, *, now: datetime | None = None) -> str:
    """The warning shown once a deadline has passed; '' otherwise."""
    if not is_overdue(issue, now=now) or not issue.due_kind:
        return ""
    assert issue.due_at is not None
    waited_for = Deadline(issue.due_kind).label
    return f"{waited_for} overdue: it was due by {moment_in_words(issue.due_at, now=now)}."


def age_in_words(issue: Issue, *, now: datetime | None = None) -> str:
    """How long ago it was reported: '3 days', '2 hours', 'less than a minute'."""
    text = timesince(issue.created_at, now=now or timezone.now(), depth=1)
    return "less than a minute" if text.startswith("0\xa0") or text.startswith("0 ") else text
