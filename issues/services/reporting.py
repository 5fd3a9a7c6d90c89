"""Reporting a new issue."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from directory.models import Pharmacy, User
from directory.roles import pharmacy_roles
from issues.events import record_event
from issues.exceptions import IssueActionForbidden
from issues.fields import (
    MAX_NAME,
    MAX_SUMMARY,
    FieldErrors,
    clean_bool,
    clean_choice,
    clean_phone,
    clean_smartcard,
    clean_text,
)
from issues.models import EventKind, Issue, Kind


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
    """Report a new issue for a pharmacy the user works at or owns.

    Validates every field (the Smartcard number is optional at this point, and normalised to 12
    digits when given), creates the issue in `in_pharmacy` and writes the REPORTED event.
    """
    if not pharmacy_roles(user, pharmacy).pharmacy_side:
        raise IssueActionForbidden("Only the pharmacy's staff or owner can report a problem for it.")
    errors = FieldErrors()
    kind = clean_choice(errors, "kind", kind, Kind.values, label="the kind of problem")
    summary = clean_text(errors, "summary", summary, label="a short summary", required=True, max_length=MAX_SUMMARY)
    details = clean_text(errors, "details", details, label="the details", required=False)
    tried = clean_text(errors, "tried_in_pharmacy", tried_in_pharmacy, label="what was already tried", required=False)
    no_card = clean_bool(errors, "no_card_yet", no_card_yet)
    number = clean_smartcard(errors, smartcard_number, no_card, required=False)
    name = clean_text(errors, "contact_name", contact_name, label="a contact name", required=True, max_length=MAX_NAME)
    phone = clean_phone(errors, "contact_phone", contact_phone)
    emergency = clean_bool(errors, "is_emergency", is_emergency)
    errors.raise_if_any()

    now = timezone.now()
    with transaction.atomic():
        issue = Issue.objects.create(
            pharmacy=pharmacy,
            reporter=user,
            kind=kind,
            summary=summary,
            details=details,
            tried_in_pharmacy=tried,
            smartcard_number=number,
            no_card_yet=no_card,
            contact_name=name,
            contact_phone=phone,
            is_emergency=emergency,
            created_at=now,
        )
        record_event(
            issue,
            kind=EventKind.REPORTED,
            actor=user,
            to_state=issue.state,
            text=summary,
            data={"kind": kind, "is_emergency": emergency},
            now=now,
        )
    return issue
