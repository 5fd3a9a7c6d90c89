"""Demo issues for `manage.py seed_demo`, built on the demo directory and accounts.

One issue in every state of the route (two resolved, two waiting on the RA), each walked there
through issues.services exactly as people would, so its timeline events and outbox rows are real:
the request emails are sent by the Celery worker once `make run` starts it.

Idempotent: a demo issue is known by its pharmacy and summary, and is only created when missing,
so running seed_demo again changes nothing. `seed_issues` returns how many demo issues exist.

One thing the services would never do: the issue "Add the locum code FFFFF to my card" waits on
an RA whose reply window has already passed. Its `due_at` is moved into the past with a queryset
update right after it is created (demo data only), so that on a first `make run` the nudge sweep
finds it overdue and sends the reminders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from directory.demo import DemoAccounts
from directory.models import Pharmacy, User
from issues import services
from issues.clock import add_working_days
from issues.models import Issue, Kind, Step

Walk = Callable[[Issue, DemoAccounts], None]


@dataclass(frozen=True)
class DemoIssue:
    ods_code: str
    reporter: str  # a DemoAccounts attribute: "staff" or "owner"
    kind: str
    summary: str
    details: str
    tried_in_pharmacy: str = ""
    smartcard_number: str = ""
    no_card_yet: bool = False
    is_emergency: bool = False
    steps: list[Walk] = field(default_factory=list)


def _transition(name: str, who: str, **fields: Any) -> Walk:
    def step(issue: Issue, accounts: DemoAccounts) -> None:
        services.issue_transition(user=getattr(accounts, who), issue=issue, transition=name, **fields)

    return step


def _note(who: str, text: str) -> Walk:
    def step(issue: Issue, accounts: DemoAccounts) -> None:
        services.issue_add_note(user=getattr(accounts, who), issue=issue, text=text)

    return step


def _ra_reply(who: str, text: str) -> Walk:
    def step(issue: Issue, accounts: DemoAccounts) -> None:
        services.issue_log_ra_reply(user=getattr(accounts, who), issue=issue, text=text)

    return step


def _phone_call(who: str, text: str, *, with_ra: bool) -> Walk:
    def step(issue: Issue, accounts: DemoAccounts) -> None:
        services.issue_log_phone_call(user=getattr(accounts, who), issue=issue, text=text, with_ra=with_ra)

    return step


def _ra_window_already_passed(issue: Issue, accounts: DemoAccounts) -> None:
    # Demo only (see the module docstring): as if the RA had been asked a week ago, so the reply is late.
    now = timezone.now()
    due_at = add_working_days(now - timedelta(days=7), settings.WINDOW_RA_REPLY_DAYS)
    due_at = min(due_at, now - timedelta(hours=1))
    Issue.objects.filter(pk=issue.pk).update(due_at=due_at, next_nudge_at=due_at)  # the first reminder at it


DEMO_ISSUES: tuple[DemoIssue, ...] = (
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.LOCKED,
        summary="Card locked after three wrong passcodes",
        details="The card locked at 8:50 this morning when a locum tried the wrong passcode.",
        tried_in_pharmacy="Tried the Forgot passcode link: no one-time code arrived.",
        smartcard_number="5550 0011 1201",
    ),
    DemoIssue(
        ods_code="FDW12",
        reporter="staff",
        kind=Kind.CERTIFICATES_EXPIRING,
        summary="Certificates expire next week",
        details="The login screen warns that the card's certificates expire in 6 days.",
        smartcard_number="5550 0011 1202",
        steps=[
            _transition(
                "try_cis",
                "staff",
                note="Opened Care Identity Management to renew the certificates; the renew option is greyed out.",
            ),
        ],
    ),
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.MULTI_SITE,
        summary="Add the locum code FFFFF to my card",
        details="I cover Saturdays at several pharmacies and need the national locum code on my card.",
        tried_in_pharmacy="Nothing to try in the pharmacy: only the RA can add the code.",
        smartcard_number="5550 0011 1203",
        steps=[
            _transition(
                "contact_ra",
                "staff",
                question="Please add the national locum code FFFFF to my Smartcard. My GPhC number is 2071234.",
                send_via="app",
            ),
            _ra_window_already_passed,
        ],
    ),
    DemoIssue(
        ods_code="FDW12",
        reporter="staff",
        kind=Kind.LOST_STOLEN_DAMAGED,
        summary="Card lost on the way to work",
        details="The pharmacist's card was lost on the bus this morning. We cannot run the dispensary safely.",
        tried_in_pharmacy="Nothing: a lost card must be cancelled by the RA.",
        smartcard_number="5550 0011 1204",
        is_emergency=True,
        steps=[
            _transition(
                "contact_ra",
                "staff",
                question="Our pharmacist's Smartcard was lost this morning. Please cancel it and tell us how to "
                "get a replacement as soon as possible: we cannot dispense without it.",
                send_via="own_mail",
            ),
            _phone_call(
                "staff",
                "Phoned the RA helpline: left a message with the card number and our phone number.",
                with_ra=False,
            ),
        ],
    ),
    DemoIssue(
        ods_code="FDW13",
        reporter="owner",
        kind=Kind.PREMISES_ODS,
        summary="New ODS code not on the team's cards",
        details="Our ODS code changed on 1 November after the change of ownership. Nobody's card shows it yet.",
        tried_in_pharmacy="Checked each card in Care Identity Management: all still show the old code FDW10.",
        smartcard_number="5550 0011 1205",
        steps=[
            _transition(
                "contact_ra",
                "owner",
                question="Our ODS code changed from FDW10 to FDW13 on 1 November. Please link FDW13 to the cards of "
                "our five team members; I can send the list of names and card numbers.",
                send_via="app",
                cc_lpc=True,
            ),
        ],
    ),
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.ROLES_POSITIONS,
        summary="Pharmacist role missing after the move",
        details="Since moving to Market Place my card has no pharmacist position there, so I cannot sign off.",
        tried_in_pharmacy="Our Sponsor tried to add the position but the option is not offered.",
        smartcard_number="5550 0011 1206",
        steps=[
            _transition(
                "contact_ra",
                "staff",
                question="Please add the pharmacist position at FDW11 to my card. Our Sponsor cannot add it.",
                send_via="app",
            ),
            _ra_reply(
                "staff",
                "The RA says positions for this pharmacy must be requested by the owner's head office. "
                "Ticket RA-48213.",
            ),
            _transition("cc_lpc", "owner", note="Head office has asked twice already. Can the LPC help?"),
            _note("lpc_officer", "Spoke to the RA lead: their process for owner requests has changed."),
            _transition(
                "escalate_to_cpe",
                "lpc_officer",
                note="The RA now refuses position changes unless head office asks, but head office requests go "
                "unanswered. Three pharmacies in our area have the same problem.",
            ),
        ],
    ),
    DemoIssue(
        ods_code="FDW12",
        reporter="staff",
        kind=Kind.READER_SOFTWARE,
        summary="Problem reading your Smartcard on the dispensary PC",
        details='The dispensary PC shows "Problem reading your Smartcard" for every card.',
        smartcard_number="5550 0011 1207",
        steps=[
            _note("staff", "Restarted Identity Agent and rebooted: same error."),
            _transition(
                "resolve",
                "staff",
                note="Our IT supplier updated the card reader driver. Cards work again.",
                fixed_by_step=Step.IN_PHARMACY,
            ),
        ],
    ),
    DemoIssue(
        ods_code="FDW11",
        reporter="staff",
        kind=Kind.LOCKED,
        summary="Locked card, no email on my profile",
        details="Locked after three tries; the unlock code cannot be sent because my profile has no email.",
        tried_in_pharmacy="Tried self-service unlock: it says there is no email address on my profile.",
        smartcard_number="5550 0011 1208",
        steps=[
            _transition(
                "contact_ra",
                "staff",
                question="My card is locked and my Care Identity profile has no email address, so I cannot unlock "
                "it myself. Please add my nhs.net address.",
                send_via="app",
            ),
            _ra_reply("staff", "The RA added the email address to the profile."),
            _transition(
                "resolve",
                "staff",
                note="Unlocked it myself with the one-time code once the RA added my email address.",
                fixed_by_step=Step.RA,
            ),
        ],
    ),
    DemoIssue(
        ods_code="FDW14",
        reporter="owner",
        kind=Kind.NEW_CARD,
        summary="Smartcard for our new dispenser",
        details="Our new dispenser starts on Monday and needs a card.",
        no_card_yet=True,
        steps=[
            _transition("withdraw", "owner", reason="Reported twice: the Bury branch manager reported it as well."),
        ],
    ),
)


def _ensure(spec: DemoIssue, accounts: DemoAccounts) -> Issue:
    pharmacy = Pharmacy.objects.get(ods_code=spec.ods_code)
    existing = Issue.objects.filter(pharmacy=pharmacy, summary=spec.summary).first()
    if existing is not None:
        return existing
    reporter: User = getattr(accounts, spec.reporter)
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
        step(issue, accounts)
    return issue


def seed_issues(accounts: DemoAccounts) -> int:
    """Create the demo issues that are missing (one or more in every state); return how many exist."""
    return len([_ensure(spec, accounts) for spec in DEMO_ISSUES])
