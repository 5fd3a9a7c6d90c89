"""What may be done to a systemic case in each of its statuses: the one table that the case
services enforce and the case pages and API read to offer only what is allowed now.

A case is open while CPE IT gathers its issues; highlighted once it was sent to NHS England's
Transformation Directorate (NHSE TD); guidance_received once their answer came back; closed at
the end. Closed is final: nothing changes a closed case (its issues stay linked to it, as the
record of where they went; a problem that comes back is a new case).

- Issues are added and removed, and the title and description edited, until the case is closed.
- The highlight is recorded while the case is open or highlighted (a second highlight, sent
  again or to someone else, replaces the first; its event keeps the earlier one).
- Guidance is recorded once the case was highlighted (again, a later answer replaces the first).
- A case is closed from any status but closed.
"""

from __future__ import annotations

from issues.models import CaseStatus

ADD_ISSUES = "add_issues"
REMOVE_ISSUE = "remove_issue"
EDIT = "edit"
HIGHLIGHT = "highlight"
GUIDANCE = "guidance"
CLOSE = "close"

_NOT_CLOSED = frozenset({CaseStatus.OPEN, CaseStatus.HIGHLIGHTED, CaseStatus.GUIDANCE_RECEIVED})

# action -> the statuses it may be taken from.
CASE_ACTIONS: dict[str, frozenset[str]] = {
    ADD_ISSUES: _NOT_CLOSED,
    REMOVE_ISSUE: _NOT_CLOSED,
    EDIT: _NOT_CLOSED,
    HIGHLIGHT: frozenset({CaseStatus.OPEN, CaseStatus.HIGHLIGHTED}),
    GUIDANCE: frozenset({CaseStatus.HIGHLIGHTED, CaseStatus.GUIDANCE_RECEIVED}),
    CLOSE: _NOT_CLOSED,
}

# The status an action leaves the case in (the others leave it as it is).
CASE_ACTION_TARGETS: dict[str, str] = {
    HIGHLIGHT: CaseStatus.HIGHLIGHTED,
    GUIDANCE: CaseStatus.GUIDANCE_RECEIVED,
    CLOSE: CaseStatus.CLOSED,
}

# Why an action is not possible now, in words, by action.
NOT_NOW: dict[str, str] = {
    ADD_ISSUES: "Issues cannot be added to a closed case.",
    REMOVE_ISSUE: "Issues cannot be taken out of a closed case.",
    EDIT: "A closed case cannot be changed.",
    HIGHLIGHT: "The highlight can only be recorded before guidance has come back, and not on a closed case.",
    GUIDANCE: (
        "Guidance can only be recorded once the case has been highlighted to NHS England, and not once it is closed."
    ),
    CLOSE: "This case is already closed.",
}


def case_action_allowed(action: str, status: str) -> bool:
    return status in CASE_ACTIONS[action]


def case_allowed_actions(status: str) -> list[str]:
    """The actions allowed on a case in this status, in the table's order."""
    return [action for action, statuses in CASE_ACTIONS.items() if status in statuses]
