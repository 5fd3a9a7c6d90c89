"""The issue page says one thing at every step: its status, its deadline and its guidance agree.

A walk through every state (with the waits a real issue in that state has: before and after the
RA's reply, before and after the deadline), every kind of problem, emergency or not, read as each
role that can see it (pharmacy staff, owner, LPC officer once the LPC is involved, CPE IT). Each
page is rendered through the test client and read as a person reads it; whatever contradicts
itself is listed, so one run shows every problem at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from issues.models import RA_ONLY_KINDS, Deadline, Issue, Kind, State
from tests.issues.factories import IssueFactory
from tests.issues.pages import links_in, text_of

pytestmark = pytest.mark.django_db

RA_PHONE = "0113 496 0000"  # tests/issues/factories.RegistrationAuthorityFactory's
TRIED = "Asked our Sponsor to unlock it; the unlock email never came."


@dataclass(frozen=True)
class Step:
    """An issue as it stands at one point of the route: its state and what it waits for."""

    state: str
    due_kind: str = ""

    @property
    def name(self) -> str:
        return f"{self.state}-{self.due_kind or 'nothing'}"


STEPS = [
    Step(State.IN_PHARMACY),
    Step(State.CIS_SELF_SERVICE),
    Step(State.RA_CONTACTED, Deadline.RA_REPLY),
    Step(State.RA_CONTACTED, Deadline.PHARMACY_UPDATE),  # the RA replied
    Step(State.LPC_CC, Deadline.LPC_ACTION),
    Step(State.ESCALATED, Deadline.CPE_TRIAGE),
    Step(State.RESOLVED),
    Step(State.WITHDRAWN),
]
# Half the kinds of each step are read past their deadline, and (in the pharmacy) with what the
# report said was tried: every kind in turn, kinds only the RA can fix among both halves.
KINDS = [(kind, index % 2 == 0) for index, kind in enumerate(Kind.values)]
assert {kind in RA_ONLY_KINDS for kind, second_half in KINDS if second_half} == {True, False}
assert {kind in RA_ONLY_KINDS for kind, second_half in KINDS if not second_half} == {True, False}
PRE_RA = (State.IN_PHARMACY, State.CIS_SELF_SERVICE)
OPEN = (*PRE_RA, State.RA_CONTACTED, State.LPC_CC, State.ESCALATED)
TRY_CIS = re.compile(r"\btry (CIS|Care Identity Service)", re.IGNORECASE)
WAITING_DAYS = re.compile(r"\b\d+(\.\d+)? working days?\b")


@dataclass(frozen=True)
class Case:
    step: Step
    kind: str
    emergency: bool
    overdue: bool  # the deadline has passed (only where there is one)
    tried: bool  # the report said what was tried (only where it is asked)


def make_issue(case: Case, *, pharmacy, reporter) -> Issue:
    now = timezone.now()
    due_at = None
    if case.step.due_kind:
        due_at = now - timedelta(hours=1) if case.overdue else now + timedelta(hours=3)
    return IssueFactory.create(
        pharmacy=pharmacy,
        reporter=reporter,
        kind=case.kind,
        state=case.step.state,
        is_emergency=case.emergency,
        due_kind=case.step.due_kind,
        due_at=due_at,
        tried_in_pharmacy=TRIED if case.tried else "",
    )


def expected_status(step: Step, kind: str) -> str:
    if step.state in PRE_RA and kind in RA_ONLY_KINDS:
        return "Ready to contact the RA"
    return State(step.state).label


def contradictions(page: str, issue: Issue, case: Case, role: str) -> list[str]:
    """What this rendered page says that does not fit the issue or itself."""
    step = case.step
    found: list[str] = []
    main = text_of(page, id="maincontent")
    status = text_of(page, class_name="app-issue-status")
    deadline = text_of(page, class_name="app-issue-deadline")
    guidance = text_of(page, id="what-to-do-now")
    title = text_of(page, class_name="app-guidance__title")
    emergency_warning = text_of(page, class_name="app-guidance__emergency")
    ra_only = issue.kind in RA_ONLY_KINDS
    pharmacy_side = role in ("staff", "owner")

    def check(ok: bool, problem: str) -> None:
        if not ok:
            found.append(problem)

    # The status, and the kind of problem, as the page shows them.
    check(status.startswith(expected_status(step, issue.kind)), f"status {status!r}")
    check(Kind(issue.kind).label in main, "the kind of problem is not shown")
    check(bool(guidance) and bool(title), "no guidance")

    # The deadline: the one the issue waits for, due or overdue, and nothing when nobody is awaited.
    if step.due_kind:
        label = Deadline(step.due_kind).label
        if case.overdue:
            check(f"{label} overdue since" in deadline, f"deadline {deadline!r}")
            check("Overdue" in main and "due by" not in deadline, f"overdue deadline {deadline!r}")
            check(not guidance.startswith("Wait") and "Allow" not in guidance, f"overdue but waiting: {title!r}")
        else:
            check(f"{label} due by" in deadline and "Overdue" not in main, f"deadline {deadline!r}")
    else:
        check(deadline == "", f"a deadline while nothing is awaited: {deadline!r}")

    # The RA has replied: what to do next, never "wait for the RA's reply".
    if step.due_kind != Deadline.RA_REPLY or case.overdue:
        check("Wait for the RA" not in main, "still waiting for the RA's reply")
    if step.due_kind == Deadline.PHARMACY_UPDATE:
        check("resolved" in guidance and "next step" in guidance, f"after the reply: {title!r}")

    # An emergency: the RA's phone number to tap, and no days to wait.
    if issue.is_emergency and step.state in OPEN:
        check(bool(emergency_warning), "no emergency warning")
        tel = f"tel:{RA_PHONE.replace(' ', '')}"
        check(tel in links_in(page, id="what-to-do-now"), "no tap-to-call link to the RA")
        check(RA_PHONE in emergency_warning, "the RA's phone number is not shown")
        # (How long a deadline has been overdue is no wait: "overdue since ... (2 working days)".)
        days = WAITING_DAYS.search(main.replace(deadline, "") if case.overdue else main)
        check(days is None, f"an emergency told {days and days.group()!r}")
        if step.due_kind == Deadline.RA_REPLY and not case.overdue:
            check(deadline.endswith("half a working day"), f"emergency deadline {deadline!r}")
    else:
        check(emergency_warning == "", "an emergency warning on a page that is not one")

    # A kind only the RA can fix: straight to the RA, never a CIS step.
    if ra_only:
        check("CIS" not in guidance and "Care Identity Service" not in guidance, "CIS in the guidance")
        check(action_url(issue, "try_cis") not in page, "a CIS step is offered")
        if step.state in PRE_RA:
            check(title == "Contact the Registration Authority (RA) now", f"title {title!r}")
    elif step.state == State.IN_PHARMACY:
        check("move on to Care Identity Service (CIS) self-service" in guidance, "no way on to CIS")
        if pharmacy_side:
            check(action_url(issue, "try_cis") in page, "the CIS step is not offered")
    if step.state in PRE_RA and pharmacy_side:
        check(reverse("issues:contact_ra", args=[issue.reference]) in page, "no way to contact the RA")

    # CIS self-service: how to use it now, never "try CIS" to someone who has moved on to it.
    if step.state == State.CIS_SELF_SERVICE:
        check(TRY_CIS.search(main) is None, "'try CIS' after moving on to CIS")
        if not ra_only:
            check(title == "Use Care Identity Service self-service", f"title {title!r}")

    # What the report said was tried is not asked for again.
    if case.tried and not ra_only:
        check("Try these checks first" not in guidance, "the checks are asked for again")
        check(TRIED in main, "what was tried is not shown")
    return found


def action_url(issue: Issue, name: str) -> str:
    return reverse("issues:action", args=[issue.reference, name])


@pytest.mark.parametrize("emergency", [False, True], ids=["routine", "emergency"])
@pytest.mark.parametrize("step", STEPS, ids=[step.name for step in STEPS])
def test_it_never_contradicts_itself(client, pharmacy, staff, owner, lpc_officer, cpe_it, step, emergency):
    """Every kind at this step, as every role that can see it (the LPC's officers once it is involved)."""
    readers = {"staff": staff, "owner": owner, "cpe_it": cpe_it}
    if step.state in (State.LPC_CC, State.ESCALATED):
        readers["lpc_officer"] = lpc_officer
    cases = [
        Case(
            step,
            kind,
            emergency,
            overdue=second_half and bool(step.due_kind),
            tried=second_half and step.state == State.IN_PHARMACY,
        )
        for kind, second_half in KINDS
    ]
    issues = [(case, make_issue(case, pharmacy=pharmacy, reporter=staff)) for case in cases]
    problems: list[str] = []
    for role, user in readers.items():
        client.force_login(user)
        for case, issue in issues:
            response = client.get(reverse("issues:detail", args=[issue.reference]))
            assert response.status_code == 200, (role, case)
            found = contradictions(response.content.decode(), issue, case, role)
            problems += [f"{case.kind}{' (overdue)' * case.overdue} as {role}: {problem}" for problem in found]
    assert not problems, "\n".join(problems)


def test_it_reads_the_page_it_walks():
    """The reader above finds what it looks for in a page (so a check cannot pass on nothing)."""
    page = (
        '<main id="maincontent"><p class="app-issue-status"><strong>RA contacted</strong></p>'
        '<div class="app-guidance" id="what-to-do-now"><div class="app-guidance__emergency"><p>Phone '
        '<a href="tel:01134960000">0113 496 0000</a></p></div><h3 class="app-guidance__title">Chase the RA</h3>'
        "<ul><li>One<br>two</li></ul></div></main>"
    )
    assert text_of(page, class_name="app-issue-status") == "RA contacted"
    assert text_of(page, class_name="app-guidance__emergency") == "Phone 0113 496 0000"
    assert text_of(page, class_name="app-guidance__title") == "Chase the RA"
    assert text_of(page, id="what-to-do-now") == "Phone 0113 496 0000 Chase the RA One two"
    assert links_in(page, id="what-to-do-now") == ["tel:01134960000"]
