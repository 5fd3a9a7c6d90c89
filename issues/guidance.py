"""'What to do now' for each kind of problem, stage of the route and role.

The wording lives in issues/guidance.toml so that people who know the route can edit it without
touching code. This module loads it once, fills in the windows from settings, and answers:

- `guidance_for(issue=, user=)` / `guidance(kind=, state=, is_emergency=, role=)`: the text for the
  issue page;
- `kind_hint(kind)`, `in_pharmacy_steps(kind)`, `cis_steps(kind)`, `ra_when(kind)`: per-kind
  pieces for the report pages;
- `kind_allows_skipping_to_ra(kind)`: problems only the RA can fix (a lost or stolen card), where
  the pharmacy goes straight to the RA;
- `ra_request_guidance()`: what a request to the RA should carry.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from directory.models import User
from issues.models import Deadline, Issue, Kind, State
from issues.permissions import role_label, roles_for

GUIDANCE_FILE = Path(__file__).with_name("guidance.toml")
ROLES = ("staff", "owner", "lpc_officer", "cpe_it")
PRE_RA_STATES = (State.IN_PHARMACY, State.CIS_SELF_SERVICE)


@dataclass(frozen=True)
class Guidance:
    """What the issue page shows under "What to do now"."""

    title: str
    text: str
    steps: list[str] = field(default_factory=list)
    warning: str = ""
    skip_to_ra: bool = False

    def __bool__(self) -> bool:
        return bool(self.text or self.steps)


@functools.cache
def _load(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def _data() -> dict[str, Any]:
    return _load(str(GUIDANCE_FILE))


def _days(days: float) -> str:
    if days == 0.5:
        return "half a working day"
    if days == int(days):
        return f"{int(days)} working day{'' if days == 1 else 's'}"
    return f"{days:g} working days"


def _fill(text: str) -> str:
    return text.format(
        ra_days=_days(settings.WINDOW_RA_REPLY_DAYS),
        emergency_days=_days(settings.WINDOW_RA_REPLY_EMERGENCY_DAYS),
        lpc_days=_days(settings.WINDOW_LPC_ACTION_DAYS),
        cpe_days=_days(settings.WINDOW_CPE_TRIAGE_DAYS),
        update_days=_days(settings.WINDOW_PHARMACY_UPDATE_DAYS),
        cpe_email=settings.CPE_IT_EMAIL,
        reopen_days=settings.REOPEN_WITHIN_DAYS,
    )


def _kind(kind: str) -> dict[str, Any]:
    kinds = _data()["kinds"]
    return kinds.get(kind) or kinds["other"]


def kind_hint(kind: str) -> str:
    return _fill(_kind(kind).get("hint", ""))


def in_pharmacy_steps(kind: str) -> list[str]:
    return [_fill(step) for step in _kind(kind).get("in_pharmacy", [])]


def cis_steps(kind: str) -> list[str]:
    return [_fill(step) for step in _kind(kind).get("cis", [])]


def ra_when(kind: str) -> str:
    return _fill(_kind(kind).get("ra_when", ""))


def kind_allows_skipping_to_ra(kind: str) -> bool:
    """True for problems only the RA can fix: the pharmacy goes straight to the RA."""
    return bool(_kind(kind).get("skip_to_ra", False))


def ra_request_guidance() -> dict[str, Any]:
    section = _data()["ra_request"]
    return {
        "intro": _fill(section["intro"]),
        "also_useful": [_fill(item) for item in section.get("also_useful", [])],
        "wait": _fill(section["wait"]),
    }


def guidance(
    *, kind: str, state: str, is_emergency: bool = False, role: str = "staff", waiting_for: str = ""
) -> Guidance:
    """The guidance for one kind of problem at one stage, for one role. `waiting_for` is the
    issue's due_kind: after the RA replied (pharmacy_update) the text says what to do next."""
    section = _data()["states"][state]
    skip = kind_allows_skipping_to_ra(kind)
    role = role if role in ROLES else "staff"
    warning = ""
    if is_emergency and section.get("emergency"):
        warning = _fill(section["emergency"])
    steps: list[str] = []
    text = _fill(section["text"])
    if state == State.IN_PHARMACY:
        if skip:
            text = _fill(section["skip_to_ra"])
        steps += in_pharmacy_steps(kind)
        if not skip:
            steps += [_fill(step) for step in section.get("steps", [])]
    elif state == State.CIS_SELF_SERVICE:
        if skip:
            text = _fill(section["skip_to_ra"])
        steps += cis_steps(kind)
        steps += [_fill(step) for step in section.get("steps", [])]
        when = ra_when(kind)
        if when:
            steps.append(when)
    elif waiting_for == Deadline.PHARMACY_UPDATE and state in (State.RA_CONTACTED, State.LPC_CC):
        after = _data()["after_ra_reply"]
        text = _fill(after["text"])
        steps += [_fill(step) for step in after.get(f"for_{role}", [])]
    else:
        steps += [_fill(step) for step in section.get("steps", [])]
    if not (waiting_for == Deadline.PHARMACY_UPDATE and state in (State.RA_CONTACTED, State.LPC_CC)):
        steps += [_fill(step) for step in section.get(f"for_{role}", [])]
    title = _fill(section["title"])
    if skip and state in PRE_RA_STATES:
        title = _fill(section.get("skip_to_ra_title", title))
    return Guidance(title=title, text=text, steps=steps, warning=warning, skip_to_ra=skip)


def guidance_for(*, issue: Issue, user: User | Any = None) -> Guidance:
    """The guidance for this issue as this user should read it (their most specific role)."""
    role = role_label(roles_for(user, issue)) if user is not None else "staff"
    return guidance(
        kind=issue.kind,
        state=issue.state,
        is_emergency=issue.is_emergency,
        role=role,
        waiting_for=issue.due_kind,
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
    for state in State.values:
        section = data.get("states", {}).get(state)
        if not section:
            problems.append(f"states.{state} is missing")
            continue
        for key in ("title", "text"):
            if not section.get(key):
                problems.append(f"states.{state}.{key} is empty")
    try:
        for kind in Kind.values:
            for state in State.values:
                for role in ROLES:
                    guidance(kind=kind, state=state, is_emergency=True, role=role)
        ra_request_guidance()
    except (KeyError, ValueError, IndexError) as error:
        problems.append(f"a text cannot be filled in: {error!r}")
    return problems
