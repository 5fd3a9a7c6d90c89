"""Every write to an issue. (Interface agreed for the other modules; bodies being written.)

Each service is keyword-only, runs in one transaction, checks permission, runs the django-fsm
transition, saves, writes the IssueEvent(s) and outbox rows, sets or clears the clock, and raises
the exceptions of issues.exceptions.
"""

from __future__ import annotations

from typing import Any

from directory.models import Pharmacy, User
from issues.models import Issue, IssueEvent

TRANSITIONS = ("try_cis", "contact_ra", "cc_lpc", "escalate_to_cpe", "resolve", "withdraw", "reopen")


def issue_report(
    *,
    user: User,
    pharmacy: Pharmacy,
    kind: str,
    summary: str,
    details: str = "",
    tried_in_pharmacy: str = "",
    smartcard_number: str = "",
    no_card_yet: bool = False,
    contact_name: str,
    contact_phone: str,
    is_emergency: bool = False,
) -> Issue:
    raise NotImplementedError


def issue_transition(*, user: User, issue: Issue, transition: str, **fields: Any) -> Issue:
    """Run one transition of DESIGN.md's table by name (see TRANSITIONS); `fields` are its inputs."""
    raise NotImplementedError


def issue_add_note(*, user: User, issue: Issue, text: str) -> IssueEvent:
    raise NotImplementedError


def issue_log_phone_call(*, user: User, issue: Issue, text: str, with_ra: bool) -> IssueEvent:
    raise NotImplementedError


def issue_log_ra_reply(*, user: User, issue: Issue, text: str) -> IssueEvent:
    raise NotImplementedError
