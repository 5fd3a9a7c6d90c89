"""Who may do what to an issue (DESIGN.md, "People and what they may see" and the transition table).

These functions answer from the user's memberships only; they never change anything. The service
layer calls them before every write, the selectors call them to list the actions a user may take.
Whether the issue is *visible* at all is the business of `issues.selectors.issues_visible_to`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from directory.models import User
from directory.roles import holds_roles, pharmacy_roles
from issues.models import Issue, State


@dataclass(frozen=True)
class Roles:
    """A user's roles towards one issue's pharmacy (a user may hold several)."""

    staff: bool = False
    owner: bool = False
    lpc_officer: bool = False
    cpe_it: bool = False
    reporter: bool = False

    @property
    def pharmacy_side(self) -> bool:
        return self.staff or self.owner

    @property
    def any(self) -> bool:
        return self.staff or self.owner or self.lpc_officer or self.cpe_it


def roles_for(user: User, issue: Issue) -> Roles:
    """The user's roles for this issue: their roles towards its pharmacy (directory.roles), where an
    LPC officer only counts once the LPC is involved, and whether they reported it."""
    if not holds_roles(user):
        return Roles()
    towards = pharmacy_roles(user, issue.pharmacy)
    return Roles(
        staff=towards.staff,
        owner=towards.owner,
        lpc_officer=towards.lpc_officer and issue.lpc_involved_at is not None,
        cpe_it=bool(user.is_cpe_it),
        reporter=issue.reporter_id == user.pk,
    )


def role_label(roles: Roles) -> str:
    """The role that guidance is written for: the most specific one the user holds."""
    if roles.owner:
        return "owner"
    if roles.staff:
        return "staff"
    if roles.lpc_officer:
        return "lpc_officer"
    if roles.cpe_it:
        return "cpe_it"
    return "staff"


def reopen_deadline(issue: Issue) -> datetime | None:
    if issue.resolved_at is None:
        return None
    return issue.resolved_at + timedelta(days=settings.REOPEN_WITHIN_DAYS)


def permission_error(transition: str, roles: Roles, *, cc_lpc: bool = False) -> str | None:
    """None when these roles may run `transition`; otherwise the message that says who may."""
    if not roles.any:
        return "You cannot see this issue."
    if transition == "try_cis":
        return None if roles.pharmacy_side else "Only the pharmacy's staff or owner can record a CIS attempt."
    if transition == "contact_ra":
        if cc_lpc and not roles.owner:
            return "Only the pharmacy's owner can copy the LPC in."
        return None if roles.pharmacy_side else "Only the pharmacy's staff or owner can contact the RA."
    if transition == "cc_lpc":
        return None if roles.owner else "Only the pharmacy's owner can copy the LPC in."
    if transition == "escalate_to_cpe":
        return None if roles.lpc_officer else "Only an officer of the pharmacy's LPC can escalate to CPE IT."
    if transition == "resolve":
        return None
    if transition == "withdraw":
        return (
            None if (roles.reporter or roles.owner) else "Only the person who reported it or the owner can withdraw it."
        )
    if transition == "reopen":
        return None if roles.pharmacy_side else "Only the pharmacy's staff or owner can reopen an issue."
    return f"Unknown step {transition!r}."


def may_log_work(roles: Roles) -> bool:
    """Notes, phone calls and RA replies: anyone with a role on the issue."""
    return roles.any


def reopen_window_open(issue: Issue) -> bool:
    deadline = reopen_deadline(issue)
    return issue.state == State.RESOLVED and deadline is not None and timezone.now() <= deadline
