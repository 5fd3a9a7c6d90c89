"""What every action's service does first: the route table's checks (issues.route), in order."""

from __future__ import annotations

from typing import Any

from directory.models import User
from issues.exceptions import IssueActionForbidden, TransitionNotAllowedNow
from issues.fields import FieldErrors
from issues.models import Issue
from issues.permissions import roles_for
from issues.route import Action, Field


def checked(action: Action, *, user: User, issue: Issue, given: dict[str, Any]) -> dict[str, Any]:
    """The row's checks on what was given; returns the cleaned values, by field name.

    1. Who: the user's roles for the issue against the row's rule, and against the rule of a field
       that only some may answer yes to (cc_lpc): IssueActionForbidden, saying who may.
    2. Where: the issue's state (the FSM's sources, or the states of work) and the row's conditions,
       and the condition of a field that may be yes only where it holds (with_ra):
       TransitionNotAllowedNow, saying why not now.
    3. The fields, each by its cleaner; a field not given takes the issue's own value (from_issue)
       or its default first: ValidationError naming every bad field.

    Steps 1 and 2 read a field's yes only once it cleans to True; a field that does not clean is
    reported in step 3.
    """
    values = {f.name: _given(f, issue, given.get(f.name)) for f in action.fields}
    gates = {f.name: f.clean(FieldErrors(), values[f.name], values) for f in action.fields if f.who or f.only_if}
    refusal = action.forbidden(roles_for(user, issue), gates)
    if refusal:
        raise IssueActionForbidden(refusal)
    refusal = action.not_now(issue, gates)
    if refusal:
        raise TransitionNotAllowedNow(refusal)
    errors = FieldErrors()
    cleaned = {f.name: f.clean(errors, values[f.name], values) for f in action.fields}
    errors.raise_if_any()
    return cleaned


def _given(field: Field, issue: Issue, value: Any) -> Any:
    if value is None and field.from_issue:
        return getattr(issue, field.name)
    if value in (None, "") and field.default is not None:
        return field.default
    return value
