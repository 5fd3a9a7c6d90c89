"""Who may do what to an issue (DESIGN.md, "People and what they may see").

`roles_for(user, issue)` answers from the user's memberships only and changes nothing; the named
rules below (`is_staff | is_owner`) test those roles. Which rule guards which action is the route
table's business (issues.route), read by the services before every write and by the selectors to
list the actions a user may take. Whether the issue is *visible* at all is the business of
`issues.selectors.issues_visible_to`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from directory.models import User
from directory.roles import holds_roles, pharmacy_roles
from issues.models import Issue


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


# Who may take an action: small named rules over a user's Roles, combined with | (in the style of
# django-rules' predicates, which would be a dependency for five lines). The route table
# (issues.route) gives each action its rule; the rule's name says who may, in the refusal.


@dataclass(frozen=True)
class Who:
    """A named rule over a user's Roles for one issue: `is_staff | is_owner` holds when either does,
    and is named "the pharmacy's staff or owner"."""

    name: str
    holds: Callable[[Roles], bool]

    def __call__(self, roles: Roles) -> bool:
        return self.holds(roles)

    def __or__(self, other: Who) -> Who:
        return Who(_either(self.name, other.name), lambda roles: self(roles) or other(roles))


def _either(first: str, second: str) -> str:
    """ "the pharmacy's staff" or "the pharmacy's owner": "the pharmacy's staff or owner"."""
    head = first.rpartition(" ")[0]
    if head and second.startswith(f"{head} "):
        return f"{first} or {second[len(head) + 1 :]}"
    return f"{first} or {second}"


is_staff = Who("the pharmacy's staff", lambda roles: roles.staff)
is_owner = Who("the pharmacy's owner", lambda roles: roles.owner)
is_lpc_officer = Who("an officer of the pharmacy's LPC", lambda roles: roles.lpc_officer)
is_cpe_it = Who("the CPE IT team", lambda roles: roles.cpe_it)
is_reporter = Who("the person who reported it", lambda roles: roles.reporter)
anyone_in_scope = Who("anyone who can see the issue", lambda roles: roles.any)
