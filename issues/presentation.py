"""How an issue reads on the pages: its status, its deadline in words, its age, its card number.

Nothing here queries the database or changes anything; the views and templates call it with
issues they already fetched through issues.selectors. The issue page, the lists and both
dashboards show the same status (`status_tag`) and the same deadline (`deadline_text`).
"""

from __future__ import annotations

import functools
from datetime import datetime

from django.conf import settings
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from issues.clock import working_time_between
from issues.models import Deadline, Issue, Kind, State, TriageOutcome, format_reference, kind_needs_ra
from issues.windows import window_in_words, working_time_in_words
from smartcard_route.dates import moment_in_words

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

# The states before the request to the RA is sent.
PRE_RA_STATES = (State.IN_PHARMACY, State.CIS_SELF_SERVICE)

# A problem only the RA can fix goes straight to the RA step (DESIGN.md, "Labels"): until the
# request is sent its status says so, while its state stays where it is.
READY_TO_CONTACT_RA = "Ready to contact the RA"


def is_ready_to_contact_ra(*, state: str, kind: str) -> bool:
    """True while an issue only the RA can fix waits for its request to the RA."""
    return state in PRE_RA_STATES and kind_needs_ra(kind)


def status_label_for(*, state: str, kind: str) -> str:
    """What the status of an issue of this kind in this state reads."""
    return READY_TO_CONTACT_RA if is_ready_to_contact_ra(state=state, kind=kind) else STATE_LABELS[state]


def status_label(issue: Issue) -> str:
    """The issue's status as the page, the lists, the dashboards and the API say it."""
    return status_label_for(state=issue.state, kind=issue.kind)


def status_tag(issue: Issue) -> dict[str, str]:
    """The NHS.UK tag macro's parameters for the issue's status."""
    return {"text": status_label(issue), "colour": STATE_TAG_COLOURS.get(issue.state, "grey")}


def state_tag(state: str) -> dict[str, str]:
    """The tag of a state itself (the counts by state on the dashboards)."""
    return {"text": STATE_LABELS[state], "colour": STATE_TAG_COLOURS.get(state, "grey")}


def status_labels_by_state(issue: Issue) -> dict[str, str]:
    """Each state's label as it reads for this issue (its timeline's status changes)."""
    return {state: status_label_for(state=state, kind=issue.kind) for state in State.values}


def is_overdue(issue: Issue, *, now: datetime | None = None) -> bool:
    """The deadline people see (`due_at`) has passed and the wait goes on (Issue.is_overdue_at)."""
    return issue.is_overdue_at(now or timezone.now())


def deadline_text(issue: Issue, *, now: datetime | None = None) -> str:
    """'RA reply due by Wednesday 30 December, 10:00: 2 working days'; once it has passed,
    'RA reply overdue since Wednesday 25 November, 17:00 (4 working days)', the working days
    counted from the deadline; '' when nothing is awaited. From `due_at` and `due_kind` (and
    whether it is an emergency) only."""
    if issue.due_at is None or not issue.due_kind:
        return ""
    now = now or timezone.now()
    waited_for = DEADLINE_LABELS[issue.due_kind]
    when = moment_in_words(issue.due_at, now=now)
    if is_overdue(issue, now=now):
        return f"{waited_for} overdue since {when} ({working_time_in_words(working_time_between(issue.due_at, now))})"
    if issue.is_emergency and issue.due_kind != Deadline.RA_REPLY:
        # Only the RA's window is shorter in an emergency: the others are not told as days to wait.
        return f"{waited_for} due by {when}"
    return f"{waited_for} due by {when}: {window_in_words(issue.due_kind, is_emergency=issue.is_emergency)}"


def age_in_words(issue: Issue, *, now: datetime | None = None) -> str:
    """How long ago it was reported: '3 days', '2 hours', 'less than a minute'."""
    return time_ago_in_words(issue.created_at, now=now or timezone.now())


# The units between a month and a minute, the longest first, in seconds.
_LONGER_THAN_A_MINUTE = (("week", 7 * 24 * 3600), ("day", 24 * 3600), ("hour", 3600))


def time_ago_in_words(then: datetime, *, now: datetime) -> str:
    """The time from `then` to `now` in its largest whole unit: '2 years', '1 month', '3 weeks',
    '4 days', '5 hours', '6 minutes', or 'less than a minute' (also for a `then` after `now`).
    Months and years are calendar months (a month from 31 January 09:00 has passed at the start of
    1 March, not on 28 February); the number and its unit are joined by a no-break space, so
    a table's cell never breaks between them. The words of `timesince(then, now, depth=1)`, at
    about a tenth of its cost (the lists and dashboards print one a row)."""
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "less than a minute"
    months = (now.year - then.year) * 12 + now.month - then.month
    if (then.day, then.time()) > (now.day, now.time()):
        months -= 1  # the last month is not complete yet
    if months >= 12:
        return _count(months // 12, "year")
    if months >= 1:
        return _count(months, "month")
    for unit, length in _LONGER_THAN_A_MINUTE:
        if seconds >= length:
            return _count(int(seconds // length), unit)
    return _count(int(seconds // 60), "minute")


def _count(number: int, unit: str) -> str:
    return f"{number}\xa0{unit}" if number == 1 else f"{number}\xa0{unit}s"


def format_smartcard_number(number: str) -> str:
    """A Smartcard number as printed on the card, '1234 5678 9012', whatever spacing it came with.
    The one place a card number is formatted: pages and the request to the RA call it once."""
    digits = "".join(character for character in number if character.isdigit())
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def issue_path(reference: str) -> str:
    """The issue page's path, as `reverse("issues:detail", args=[reference])` gives it, for tables
    that link many issues: reverse() costs about 30 microseconds a call (5 ms of a dashboard of 150
    issues), this a string join. The parts around the reference are worked out once for each URL
    configuration and script prefix (reverse's own inputs)."""
    before, after = _around_reference(settings.ROOT_URLCONF, get_script_prefix())
    return f"{before}{reference}{after}"


@functools.lru_cache(maxsize=16)
def _around_reference(urlconf: str, script_prefix: str) -> tuple[str, str]:
    sample = format_reference(1)
    before, _, after = reverse("issues:detail", args=[sample]).partition(sample)
    return before, after


# Each kind's label, looked up once (a row's `get_kind_display()` is a lookup through the field's
# choices each time).
KIND_LABELS: dict[str, str] = {kind.value: str(kind.label) for kind in Kind}
TRIAGE_OUTCOME_LABELS: dict[str, str] = {outcome.value: str(outcome.label) for outcome in TriageOutcome}
STATE_LABELS: dict[str, str] = {state.value: str(state.label) for state in State}
DEADLINE_LABELS: dict[str, str] = {deadline.value: str(deadline.label) for deadline in Deadline}
