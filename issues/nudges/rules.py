"""The rules of nudging: who is told when each kind of wait runs out, what they are told, and when
the next reminder comes (DESIGN.md, "Nudges"); shared by the sweep, the emails and the digest."""

from __future__ import annotations

import functools
from datetime import datetime

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from issues.models import Deadline
from issues.windows import window_days
from smartcard_route.dates import moment_in_words


class Role:
    REPORTER = "reporter"
    OWNER = "owner"
    LPC_OFFICER = "lpc_officer"
    CPE_IT = "cpe_it"
    NOBODY_ELSE = "nobody_else"  # CPE IT's mailbox, told because the directory had nobody to remind


ROLE_LABELS = {
    Role.REPORTER: "reporter",
    Role.OWNER: "owner",
    Role.LPC_OFFICER: "LPC",
    Role.CPE_IT: "CPE IT",
    Role.NOBODY_ELSE: "CPE IT, as nobody else could be reminded",
}

# Who is reminded when each kind of wait runs out, in order of precedence: a person holding two
# roles (an owner who reported the issue) gets the first one's email only.
AUDIENCES: dict[str, tuple[str, ...]] = {
    Deadline.RA_REPLY: (Role.OWNER, Role.REPORTER),
    Deadline.LPC_ACTION: (Role.LPC_OFFICER,),
    Deadline.CPE_TRIAGE: (Role.CPE_IT,),
    Deadline.PHARMACY_UPDATE: (Role.REPORTER,),
    Deadline.LPC_FOLLOW_UP: (Role.LPC_OFFICER,),
}

NUDGED_KINDS = tuple(AUDIENCES)

AUDIENCE_WORDS = {
    Deadline.RA_REPLY: "pharmacy's reporter and owner",
    Deadline.LPC_ACTION: "LPC",
    Deadline.CPE_TRIAGE: "CPE IT team",
    Deadline.PHARMACY_UPDATE: "reporter",
    Deadline.LPC_FOLLOW_UP: "LPC",
}

# templates/emails/<name>.txt and .html for each (wait, role).
TEMPLATES: dict[tuple[str, str], str] = {
    (Deadline.RA_REPLY, Role.REPORTER): "nudge_ra_reply_reporter",
    (Deadline.RA_REPLY, Role.OWNER): "nudge_ra_reply_owner",
    (Deadline.LPC_ACTION, Role.LPC_OFFICER): "nudge_lpc_action",
    (Deadline.CPE_TRIAGE, Role.CPE_IT): "nudge_cpe_triage",
    (Deadline.PHARMACY_UPDATE, Role.REPORTER): "nudge_pharmacy_update",
    (Deadline.LPC_FOLLOW_UP, Role.LPC_OFFICER): "nudge_lpc_follow_up",
    **{(kind, Role.NOBODY_ELSE): "nudge_nobody_to_remind" for kind in NUDGED_KINDS},
}

SUBJECTS: dict[tuple[str, str], str] = {
    (Deadline.RA_REPLY, Role.REPORTER): "No reply from the RA yet: please chase them",
    (Deadline.RA_REPLY, Role.OWNER): "No reply from the RA yet: chase them or cc your LPC",
    (Deadline.LPC_ACTION, Role.LPC_OFFICER): "Waiting for the LPC: work with the RA or escalate to CPE IT",
    (Deadline.CPE_TRIAGE, Role.CPE_IT): "Escalation waiting for CPE IT triage",
    (Deadline.PHARMACY_UPDATE, Role.REPORTER): "Is it resolved? The RA replied and there has been no update",
    (
        Deadline.LPC_FOLLOW_UP,
        Role.LPC_OFFICER,
    ): "Follow up the LPC's work: resolve, log more work or escalate to CPE IT",
    **{
        (kind, Role.NOBODY_ELSE): "Nobody to remind: the directory has no contact for this issue"
        for kind in NUDGED_KINDS
    },
}

# What the event says ran out, e.g. "Reminder 1: no reply from the RA by Wednesday ...".
WAITED_FOR = {
    Deadline.RA_REPLY: "no reply from the RA",
    Deadline.LPC_ACTION: "no action recorded by the LPC",
    Deadline.CPE_TRIAGE: "the escalation not yet triaged by CPE IT",
    Deadline.PHARMACY_UPDATE: "no update from the pharmacy since the RA replied",
    Deadline.LPC_FOLLOW_UP: "no update from the LPC since its last work on the issue",
}


# Settings and the cadence ---------------------------------------------------------------------


def batch_size() -> int:
    return max(1, int(settings.NUDGE_BATCH_SIZE))


def sweep_connections() -> int:
    return max(1, int(settings.NUDGE_SWEEP_CONNECTIONS))


def max_reminders() -> int:
    return max(1, int(settings.NUDGE_MAX_REMINDERS))


def reminder_gap_days(due_kind: str, *, is_emergency: bool, reminder_number: int) -> float:
    """Working days from reminder number `reminder_number` to the next one: the window again up to
    NUDGE_MAX_REMINDERS, then one working day."""
    if reminder_number < max_reminders():
        return window_days(due_kind, is_emergency=is_emergency)
    return 1.0


@functools.lru_cache(maxsize=8192)
def london(moment: datetime) -> str:
    """'Wednesday 30 December 2026, 10:00' in the site's time zone (Europe/London)."""
    return moment_in_words(moment, with_year=True)


# Links and addresses --------------------------------------------------------------------------


class Links:
    """Issue page addresses, without a URL lookup per issue."""

    _SAMPLE = "SC-000001"

    def __init__(self) -> None:
        try:
            path = reverse("issues:detail", kwargs={"reference": self._SAMPLE})
        except NoReverseMatch:
            path = f"/issues/{self._SAMPLE}/"
        self._prefix, _, self._suffix = f"{settings.SITE_URL}{path}".partition(self._SAMPLE)

    def issue(self, reference: str, anchor: str = "") -> str:
        return f"{self._prefix}{reference}{self._suffix}" + (f"#{anchor}" if anchor else "")


# The issue page shows each action it offers in an element with the id "action-<name>"
# (templates/issues/detail.jinja): links in the reminders go straight to it.
ACTION_ANCHORS = {name: f"action-{name}" for name in ("cc_lpc", "escalate_to_cpe", "lpc_work", "resolve")}
