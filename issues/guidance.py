"""'What to do now' for each kind of problem, stage of the route and role.

The wording lives in issues/guidance.toml so that people who know the route can edit it without
touching code. This module loads it once, fills in the windows (issues.windows) and answers:

- `guidance_for(issue=, user=)` / `guidance(kind=, state=, ...)`: the text for the issue page and
  the report's confirmation. It follows what the issue waits for: a kind only the RA can fix
  (issues.models.kind_needs_ra) goes straight to the RA step, an emergency is told to phone the
  RA, the RA's reply turns "wait" into "what next", a passed deadline into "chase";
- `kind_hint(kind)`, `in_pharmacy_steps(kind)`, `cis_steps(kind)`, `ra_when(kind)`: per-kind
  pieces for the report pages;
- `ra_request_guidance(issue)`: what a request to the RA should carry.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from directory.models import User
from issues.models import OPEN_STATES, Deadline, Issue, Kind, State
from issues.permissions import Roles, role_label, roles_for
from issues.presentation import is_overdue, is_ready_to_contact_ra
from issues.windows import window_in_words

GUIDANCE_FILE = Path(__file__).with_name("guidance.toml")
ROLES = ("staff", "owner", "lpc_officer", "cpe_it")


@dataclass(frozen=True)
class Guidance:
    """What the page shows under "What to do now". `warning` is the emergency's: the page puts the
    RA's phone number beside it."""

    title: str
    text: str
    steps: list[str] = field(default_factory=list)
    warning: str = ""

    def __bool__(self) -> bool:
        return bool(self.text or self.steps)


@functools.cache
def _load(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def _data() -> dict[str, Any]:
    return _load(str(GUIDANCE_FILE))


def _fill(text: str, *, is_emergency: bool = False) -> str:
    """The text with its {placeholders} filled in; {ra_days} is this issue's RA window."""
    return text.format(
        ra_days=window_in_words(Deadline.RA_REPLY, is_emergency=is_emergency),
        lpc_days=window_in_words(Deadline.LPC_ACTION, is_emergency=is_emergency),
        cpe_days=window_in_words(Deadline.CPE_TRIAGE, is_emergency=is_emergency),
        update_days=window_in_words(Deadline.PHARMACY_UPDATE, is_emergency=is_emergency),
        lpc_follow_up_days=window_in_words(Deadline.LPC_FOLLOW_UP, is_emergency=is_emergency),
        cpe_email=settings.CPE_IT_EMAIL,
        reopen_days=settings.REOPEN_WITHIN_DAYS,
    )


def _fill_all(texts: list[str], *, is_emergency: bool = False) -> list[str]:
    return [_fill(text, is_emergency=is_emergency) for text in texts]


def _kind(kind: str) -> dict[str, Any]:
    kinds = _data()["kinds"]
    return kinds.get(kind) or kinds["other"]


def kind_hint(kind: str) -> str:
    return _fill(_kind(kind).get("hint", ""))


def in_pharmacy_steps(kind: str) -> list[str]:
    """The checks to do in the pharmacy; for a kind only the RA can fix, what to have ready."""
    return _fill_all(_kind(kind).get("in_pharmacy", []))


def cis_steps(kind: str) -> list[str]:
    return _fill_all(_kind(kind).get("cis", []))


def ra_when(kind: str) -> str:
    return _fill(_kind(kind).get("ra_when", ""))


def ra_request_guidance(issue: Issue) -> dict[str, Any]:
    """What the request to the RA should carry, for this issue: what the report already said was
    tried is in the prepared question, so it is not asked for again."""
    section = _data()["ra_request"]
    emergency = issue.is_emergency
    tried = bool(issue.tried_in_pharmacy.strip())
    also_useful = _fill_all(section.get("also_useful", []), is_emergency=emergency)
    if not tried:
        also_useful.insert(1, _fill(section["also_useful_untried"], is_emergency=emergency))
    return {
        "intro": _fill(section["intro"], is_emergency=emergency),
        "also_useful": also_useful,
        "tried_included": _fill(section["tried_included"], is_emergency=emergency) if tried else "",
        "wait": _fill(section["wait"], is_emergency=emergency),
    }


def _stage(*, kind: str, state: str, waiting_for: str, triaged: bool = False) -> dict[str, Any]:
    """The section of the file the issue is at: its state's, or the RA-only, after-reply, LPC
    follow-up or after-triage one."""
    data = _data()
    if is_ready_to_contact_ra(state=state, kind=kind):
        return data["ra_only"]
    if state == State.ESCALATED and triaged:
        return data["after_triage"]
    if state == State.RA_CONTACTED and waiting_for == Deadline.PHARMACY_UPDATE:
        return data["after_ra_reply"]
    if state == State.LPC_CC and waiting_for == Deadline.LPC_FOLLOW_UP:
        return data["lpc_follow_up"]
    return data["states"][state]


def guidance(
    *,
    kind: str,
    state: str,
    is_emergency: bool = False,
    role: str = "staff",
    waiting_for: str = "",
    overdue: bool = False,
    tried: bool = False,
    triaged: bool = False,
) -> Guidance:
    """The guidance for one kind of problem at one stage, for one role.

    `waiting_for` is the issue's due_kind (after the RA replied, pharmacy_update: the text says what
    to do next), `overdue` whether its deadline has passed, `tried` whether the report said what was
    already tried in the pharmacy (then the checks are not asked for again), `triaged` whether CPE IT
    triaged the escalation (then triage is not asked for again)."""
    section = _stage(kind=kind, state=state, waiting_for=waiting_for, triaged=triaged)
    ra_only = section is _data()["ra_only"]
    role = role if role in ROLES else "staff"

    def text_of(key: str) -> Any:
        """The section's text for `key`, its emergency_ twin for an emergency, filled in."""
        value = section.get(f"emergency_{key}", section.get(key)) if is_emergency else section.get(key)
        if value is None:
            return [] if key == "steps" or key.startswith("for_") else ""
        return (
            _fill_all(value, is_emergency=is_emergency)
            if isinstance(value, list)
            else _fill(value, is_emergency=is_emergency)
        )

    title, text = text_of("title"), text_of("text")
    if overdue and section.get("overdue_title"):
        title, text = text_of("overdue_title"), text_of("overdue_text")
    elif state == State.IN_PHARMACY and tried and not ra_only:
        text = text_of("text_after_tried")
    steps: list[str] = []
    if ra_only or state == State.IN_PHARMACY:
        steps += in_pharmacy_steps(kind)
    elif state == State.CIS_SELF_SERVICE:
        steps += cis_steps(kind)
    steps += text_of("steps")
    if ra_only or state == State.CIS_SELF_SERVICE:
        when = ra_when(kind)
        if when:
            steps.append(when)
    steps += text_of(f"for_{role}")
    warning = text_of("emergency_warning") if is_emergency and state in OPEN_STATES else ""
    return Guidance(title=title, text=text, steps=steps, warning=warning)


def guidance_for(
    *, issue: Issue, user: User | Any = None, now: datetime | None = None, roles: Roles | None = None
) -> Guidance:
    """The guidance for this issue as this user should read it (their most specific role); `roles`,
    the user's roles for it (issues.permissions.roles_for) when the caller has them already."""
    if roles is None and user is not None:
        roles = roles_for(user, issue)
    role = role_label(roles) if roles is not None else "staff"
    return guidance(
        kind=issue.kind,
        state=issue.state,
        is_emergency=issue.is_emergency,
        role=role,
        waiting_for=issue.due_kind,
        overdue=is_overdue(issue, now=now),
        tried=bool(issue.tried_in_pharmacy.strip()),
        triaged=bool(issue.triage_outcome),
    )


def check_guidance_file() -> list[str]:
    """Problems in guidance.toml (missing kinds, stages or text; unknown placeholders)."""
    problems: list[str] = []
    data = _data()
    for kind in Kind.values:
        section = data.get("kinds", {}).get(kind)
        if not section:
            problems.append(f"kinds.{kind} is missing")
            continue
        for key in ("hint", "in_pharmacy", "cis", "ra_when"):
            if not section.get(key):
                problems.append(f"kinds.{kind}.{key} is empty")
    sections = {f"states.{state}": data.get("states", {}).get(state) for state in State.values}
    sections |= {name: data.get(name) for name in ("ra_only", "after_ra_reply", "lpc_follow_up", "after_triage")}
    for name, section in sections.items():
        if not section:
            problems.append(f"{name} is missing")
            continue
        for key in ("title", "text"):
            if not section.get(key):
                problems.append(f"{name}.{key} is empty")
        if bool(section.get("overdue_title")) != bool(section.get("overdue_text")):
            problems.append(f"{name} needs both overdue_title and overdue_text, or neither")
    if not data.get("states", {}).get(State.IN_PHARMACY, {}).get("text_after_tried"):
        problems.append("states.in_pharmacy.text_after_tried is empty")
    if problems:
        return problems
    try:
        for kind in Kind.values:
            for state in State.values:
                for waiting_for in Deadline.values:
                    for role in ROLES:
                        for flag in (False, True):
                            guidance(
                                kind=kind,
                                state=state,
                                is_emergency=flag,
                                role=role,
                                waiting_for=waiting_for,
                                overdue=flag,
                                tried=flag,
                                triaged=flag,
                            )
        for emergency in (False, True):
            for tried in ("", "Tried the unlock link."):
                ra_request_guidance(Issue(kind=Kind.OTHER, is_emergency=emergency, tried_in_pharmacy=tried))
    except (KeyError, ValueError, IndexError) as error:
        problems.append(f"a text cannot be filled in: {error!r}")
    return problems
