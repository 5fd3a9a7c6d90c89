"""Field validation: the cleaners that the route table (issues.route) declares for each field and
the services run. Every bad field is collected, then raised at once as one ValidationError
({field: [messages]}), which the pages and the API present as they are."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from directory.models import User
from directory.validators import normalise_phone, normalise_smartcard_number

MAX_SUMMARY = 200
MAX_NAME = 150
MAX_TEXT = 5000


class FieldErrors:
    """Collects field errors so one ValidationError names every bad field at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def add_validation_error(self, name: str, error: ValidationError) -> None:
        for message in error.messages:
            self.add(name, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def clean_text(
    errors: FieldErrors, name: str, value: Any, *, label: str, required: bool, max_length: int = MAX_TEXT
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(name, f"Enter {label} as text.")
        return ""
    text = value.strip()
    if "\x00" in text:
        errors.add(name, f"{label[0].upper()}{label[1:]} contains a character that cannot be stored.")
        return ""
    if required and not text:
        errors.add(name, f"Enter {label}.")
    elif len(text) > max_length:
        errors.add(name, f"{label[0].upper()}{label[1:]} must be {max_length} characters or fewer.")
    return text


def clean_bool(errors: FieldErrors, name: str, value: Any, *, required_label: str = "") -> bool:
    """A yes or no. Not given means no, unless `required_label` names the answer that must be
    given ("who you spoke to": "Choose who you spoke to.")."""
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        if required_label:
            errors.add(name, f"Choose {required_label}.")
        return False
    errors.add(name, "Choose yes or no.")
    return False


def clean_phone(errors: FieldErrors, name: str, value: Any) -> str:
    if not isinstance(value, str):
        errors.add(name, "Enter a phone number.")
        return ""
    try:
        return normalise_phone(value)
    except ValidationError as error:
        errors.add_validation_error(name, error)
        return ""


def clean_smartcard(errors: FieldErrors, value: Any, no_card_yet: bool, *, required: bool) -> str:
    """The Smartcard number normalised to 12 digits, or "" with no_card_yet."""
    number = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        errors.add("smartcard_number", "Enter the Smartcard number as text.")
        return ""
    if no_card_yet:
        if number:
            errors.add("smartcard_number", "Enter a Smartcard number or say there is no card yet, not both.")
        return ""
    if not number:
        if required:
            errors.add(
                "smartcard_number",
                "Enter the 12-digit Smartcard number from the front of the card, or say there is no card yet.",
            )
        return ""
    try:
        return normalise_smartcard_number(number)
    except ValidationError as error:
        errors.add_validation_error("smartcard_number", error)
        return ""


def clean_choice(errors: FieldErrors, name: str, value: Any, choices: Any, *, label: str) -> str:
    valid = [str(choice) for choice in choices]
    if value in (None, ""):
        errors.add(name, f"Choose {label}.")
        return ""
    if not isinstance(value, str) or value not in valid:
        errors.add(name, f"Choose {label} from the list.")
        return ""
    return value


def cpe_it_people() -> list[tuple[str, str]]:
    """The active members of the CPE IT team, as (email address, name) choices, by name: who may
    own an escalation (route.TRIAGE's owner)."""
    people = User.objects.filter(is_active=True, is_cpe_it=True).order_by("full_name", "pk")
    return [(person.email, person.full_name or person.email) for person in people]


def clean_cpe_it_member(errors: FieldErrors, name: str, value: Any, *, label: str) -> User | None:
    """A member of the CPE IT team: a User, or the email address of one (any case); None when none
    is given (the caller's default). Anyone else, or an inactive account, is an error naming them."""
    if value in (None, ""):
        return None
    if isinstance(value, User):
        person: User | None = value
        given = value.email
    elif isinstance(value, str):
        given = value.strip()
        person = User.objects.filter(email__iexact=given).first()
    else:
        errors.add(name, f"Choose {label} by their email address.")
        return None
    if person is None or not person.is_active or not person.is_cpe_it:
        errors.add(name, f"Choose {label} from the CPE IT team: {given} is not an active member of it.")
        return None
    return person
