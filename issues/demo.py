"""Demo issues for `manage.py seed_demo`, built on the demo directory and accounts.

One issue in every state of the route (two resolved, two waiting on the RA), each walked there
through issues.services exactly as people would, so its timeline events and outbox rows are real:
the request emails are sent by the Celery worker once `make run` starts it.

Each issue's story happened in the working days before the demo was seeded: every step (the
report, then each service call) is placed a number of working days before the moment of seeding
(issues.clock.subtract_working_days), and the service runs at that moment, the clock travelled
back with `time_machine`. The services read the time themselves, so nothing is written after the
fact: the events, the deadlines they start and the outbox rows carry the times the services gave
them, and the timelines are true whatever day and hour `make run` is first started.

Each deadline a step starts is met by the next step before it passes, except for one: the issue
"Add the locum code FFFFF to my card" asked its RA two and three quarter working days before the
seeding, so its two-day reply window has already passed and nobody has been reminded yet. On a
first `make run` the nudge sweep finds it overdue and sends the reminders, at their true time.

Idempotent: a demo issue is known by its pharmacy and summary, and is only created when missing,
so running seed_demo again changes nothing. `seed_issues` returns how many demo issues exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import time_machine
from django.utils import timezone

from directory.demo import DemoAccounts
from directory.models import Pharmacy, User
from issues import services
from issues.clock import subtract_working_days
from issues.models import Issue, Kind, Step

Walk = Callable[[Issue, DemoAccounts], None]


@dataclass(frozen=True)
class DemoStep:
    ago: float  # working days before the demo is seeded
    walk: Walk


@dataclass(frozen=True)
class DemoIssue:
    ods_code: str
    reporter: str  # a DemoAccounts attribute: "staff" or "owner"
    kind: str
    summary: str
    details: str
    reported_ago: float  # working days before the demo is seeded; each step comes later (a smaller `ago`)
    tried_in_pharmacy: str = ""
    smartcard_number: str = ""
    no_card_yet: bool = False
    is_emergency: bool = False
    steps: tuple[DemoStep, ...] = ()


def _transition(ago: float, name: str, who: str, **fields: Any) -> DemoStep:
    def walk(issue: Issue, accounts: DemoAccounts) -> None:
        services.ACTION_SERVICES[name](user=getattr(accounts, who), issue=issue, **fields)

    return DemoStep(ago, walk)


def _note(ago: float, who: str, text: str) -> DemoStep:
    def walk(issue: Issue, accounts: DemoAccounts) -> None:
        services.issue_add_note(user=getattr(accounts, who), issue=issue, text=text)

    return DemoStep(ago, walk)


def _ra_reply(ago: float, who: str, text: str) -> DemoStep:
    def walk(issue: Issue, accounts: DemoAccounts) -> None:
        services.issue_log_ra_reply(user=getattr(accounts, who), issue=issue, text=text)

    return DemoStep(ago, walk)


def _phone_call(ago: float, who: str, text: str, *, with_ra: bool) -> DemoStep:
    def walk(issue: Issue, accounts: DemoAccounts) -> None:
        services.issue_log_phone_call(user=getattr(accounts, who), issue=issue, text=text, with_ra=with_ra)

    return DemoStep(ago, walk)


# The RA reply window is 2 working days (half a day for an emergency), the LPC's and CPE IT's 2:
# the `ago`s below keep every deadline but the locum code's ahead of the step that follows it.
DEMO_ISSUES: tuple[DemoIssue, ...] = (
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.LOCKED,
        summary="Card locked after three wrong passcodes",
        details="The card locked at 8:50 this morning when a locum tried the wrong passcode.",
        reported_ago=0.1,
        tried_in_pharmacy="Tried the Forgot passcode link: no one-time code arrived.",
        smartcard_number="5550 0011 1201",
    ),
    DemoIssue(
        ods_code="FDW12",
        reporter="staff",
        kind=Kind.CERTIFICATES_EXPIRING,
        summary="Certificates expire next week",
        details="The login screen warns that the card's certificates expire in 6 days.",
        reported_ago=1.5,
        smartcard_number="5550 0011 1202",
        steps=(
            _transition(
                1.25,
                "try_cis",
                "staff",
                note="Opened Care Identity Management to renew the certificates; the renew option is greyed out.",
            ),
        ),
    ),
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.MULTI_SITE,
        summary="Add the locum code FFFFF to my card",
        details="I cover Saturdays at several pharmacies and need the national locum code on my card.",
        reported_ago=3,
        tried_in_pharmacy="Nothing to try in the pharmacy: only the RA can add the code.",
        smartcard_number="5550 0011 1203",
        steps=(
            # The reply was due three quarters of a working day before seeding: overdue, not yet reminded.
            _transition(
                2.75,
                "contact_ra",
                "staff",
                question="Please add the national locum code FFFFF to my Smartcard. My GPhC number is 2071234.",
                send_via="app",
            ),
        ),
    ),
    DemoIssue(
        ods_code="FDW12",
        reporter="staff",
        kind=Kind.LOST_STOLEN_DAMAGED,
        summary="Card lost on the way to work",
        details="The pharmacist's card was lost on the bus this morning. We cannot run the dispensary safely.",
        reported_ago=0.2,
        tried_in_pharmacy="Nothing: a lost card must be cancelled by the RA.",
        smartcard_number="5550 0011 1204",
        is_emergency=True,
        steps=(
            _transition(
                0.15,
                "contact_ra",
                "staff",
                question="Our pharmacist's Smartcard was lost this morning. Please cancel it and tell us how to "
                "get a replacement as soon as possible: we cannot dispense without it.",
                send_via="own_mail",
            ),
            _phone_call(
                0.1,
                "staff",
                "Phoned the RA helpline: left a message with the card number and our phone number.",
                with_ra=False,
            ),
        ),
    ),
    DemoIssue(
        ods_code="FDW13",
        reporter="owner",
        kind=Kind.PREMISES_ODS,
        summary="New ODS code not on the team's cards",
        details="Our ODS code changed last month after the change of ownership. Nobody's card shows it yet.",
        reported_ago=1.25,
        tried_in_pharmacy="Checked each card in Care Identity Management: all still show the old code FDW10.",
        smartcard_number="5550 0011 1205",
        steps=(
            _transition(
                1,
                "contact_ra",
                "owner",
                question="Our ODS code changed from FDW10 to FDW13 last month. Please link FDW13 to the cards of "
                "our five team members; I can send the list of names and card numbers.",
                send_via="app",
                cc_lpc=True,
            ),
            # The LPC's work stops its window; its 5-day follow-up is what the LPC dashboard shows next.
            _transition(
                0.5,
                "lpc_work",
                "lpc_officer",
                with_whom="ra",
                how="call",
                text="Spoke to the RA's team lead: they will link FDW13 to the cards this week.",
            ),
        ),
    ),
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.ROLES_POSITIONS,
        summary="Pharmacist role missing after the move",
        details="Since moving to Market Place my card has no pharmacist position there, so I cannot sign off.",
        reported_ago=4,
        tried_in_pharmacy="Our Sponsor tried to add the position but the option is not offered.",
        smartcard_number="5550 0011 1206",
        steps=(
            _transition(
                3.9,
                "contact_ra",
                "staff",
                question="Please add the pharmacist position at FDW11 to my card. Our Sponsor cannot add it.",
                send_via="app",
            ),
            _ra_reply(
                3,
                "staff",
                "The RA says positions for this pharmacy must be requested by the owner's head office. "
                "Ticket RA-48213.",
            ),
            _transition(2.5, "cc_lpc", "owner", note="Head office has asked twice already. Can the LPC help?"),
            _note(2, "lpc_officer", "Spoke to the RA lead: their process for owner requests has changed."),
            _transition(
                1,
                "escalate_to_cpe",
                "lpc_officer",
                note="The RA now refuses position changes unless head office asks, but head office requests go "
                "unanswered. Three pharmacies in our area have the same problem.",
            ),
        ),
    ),
    DemoIssue(
        ods_code="FDW12",
        reporter="staff",
        kind=Kind.READER_SOFTWARE,
        summary="Problem reading your Smartcard on the dispensary PC",
        details='The dispensary PC shows "Problem reading your Smartcard" for every card.',
        reported_ago=2,
        smartcard_number="5550 0011 1207",
        steps=(
            _note(1.75, "staff", "Restarted Identity Agent and rebooted: same error."),
            _transition(
                1.5,
                "resolve",
                "staff",
                note="Our IT supplier updated the card reader driver. Cards work again.",
                fixed_by_step=Step.IN_PHARMACY,
            ),
        ),
    ),
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.LOCKED,
        summary="Locked card, no email on my profile",
        details="Locked after three tries; the unlock code cannot be sent because my profile has no email.",
        reported_ago=5,
        tried_in_pharmacy="Tried self-service unlock: it says there is no email address on my profile.",
        smartcard_number="5550 0011 1208",
        steps=(
            _transition(
                4.9,
                "contact_ra",
                "staff",
                question="My card is locked and my Care Identity profile has no email address, so I cannot unlock "
                "it myself. Please add my nhs.net address.",
                send_via="app",
            ),
            _ra_reply(4, "staff", "The RA added the email address to the profile."),
            _transition(
                3.5,
                "resolve",
                "staff",
                note="Unlocked it myself with the one-time code once the RA added my email address.",
                fixed_by_step=Step.RA,
            ),
        ),
    ),
    DemoIssue(
        ods_code="FDW14",
        reporter="owner",
        kind=Kind.NEW_CARD,
        summary="Smartcard for our new dispenser",
        details="Our new dispenser starts on Monday and needs a card.",
        reported_ago=1,
        no_card_yet=True,
        steps=(
            _transition(
                0.5, "withdraw", "owner", reason="Reported twice: the Bury branch manager reported it as well."
            ),
        ),
    ),
)


@contextmanager
def _working_days_before(seeded_at: datetime, ago: float) -> Iterator[None]:
    """The clock stands still at `ago` working days before `seeded_at` while the services run.
    (In UTC: a destination in a named zone would also set the process's time zone.)"""
    with time_machine.travel(subtract_working_days(seeded_at, ago).astimezone(UTC), tick=False):
        yield


def _ensure(spec: DemoIssue, accounts: DemoAccounts, *, seeded_at: datetime) -> Issue:
    pharmacy = Pharmacy.objects.get(ods_code=spec.ods_code)
    existing = Issue.objects.filter(pharmacy=pharmacy, summary=spec.summary).first()
    if existing is not None:
        return existing
    reporter: User = getattr(accounts, spec.reporter)
    with _working_days_before(seeded_at, spec.reported_ago):
        issue = services.issue_report(
            user=reporter,
            pharmacy=pharmacy,
            kind=spec.kind,
            summary=spec.summary,
            details=spec.details,
            tried_in_pharmacy=spec.tried_in_pharmacy,
            smartcard_number=spec.smartcard_number,
            no_card_yet=spec.no_card_yet,
            contact_name=reporter.full_name,
            contact_phone=pharmacy.phone or "0113 496 0000",
            is_emergency=spec.is_emergency,
        )
    for step in spec.steps:
        with _working_days_before(seeded_at, step.ago):
            step.walk(issue, accounts)
    return issue


def seed_issues(accounts: DemoAccounts) -> int:
    """Create the demo issues that are missing (one or more in every state), each at its moments
    before now, oldest report first so references follow the order of reporting; return how many exist."""
    seeded_at = timezone.now()
    by_report = sorted(DEMO_ISSUES, key=lambda spec: spec.reported_ago, reverse=True)
    return len([_ensure(spec, accounts, seeded_at=seeded_at) for spec in by_report])
