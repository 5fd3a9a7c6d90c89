"""Formats from domain/smartcard-problems.md: ODS codes, Smartcard numbers, phone numbers.

Each `normalise_*` function returns the canonical form or raises ValidationError with a message a
pharmacy user can act on. Forms, the API and the CSV import all call these.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

LOCUM_ODS_CODE = "FFFFF"
_ODS_OLD = re.compile(r"^F[A-Z0-9]{4}$")
_ODS_NEW = re.compile(r"^[A-Z][0-9][A-Z][0-9][A-Z]$")
# ASCII digits only: \d also matches other scripts' digits, which are no Smartcard number.
_SMARTCARD = re.compile(r"[0-9]{12}")
_PHONE_ALLOWED = re.compile(r"^\+?[0-9 ()\-]+$")


def normalise_ods_code(value: str) -> str:
    code = (value or "").strip().upper()
    if not code:
        raise ValidationError("Enter the pharmacy's ODS code, like FW844.", code="required")
    if code == LOCUM_ODS_CODE or _ODS_OLD.match(code) or _ODS_NEW.match(code):
        return code
    raise ValidationError(
        "Enter a pharmacy ODS code of 5 characters, like FW844 or A1B2C (FFFFF for locums).",
        code="invalid_ods",
    )


def validate_ods_code(value: str) -> None:
    if value != normalise_ods_code(value):
        raise ValidationError("ODS codes are stored in capitals without spaces.", code="invalid_ods")


def normalise_smartcard_number(value: str) -> str:
    digits = re.sub(r"[\s\-]", "", value or "")
    if not _SMARTCARD.fullmatch(digits):
        raise ValidationError(
            "Enter the 12-digit Smartcard number from the front of the card, below the photo.",
            code="invalid_smartcard_number",
        )
    return digits


def normalise_phone(value: str) -> str:
    """A UK phone number as typed, tidied: 10 or 11 digits (or +44 and 9 or 10 more)."""
    raw = (value or "").strip()
    if not raw:
        raise ValidationError("Enter a phone number.", code="required")
    if not _PHONE_ALLOWED.match(raw):
        raise ValidationError("Enter a phone number using only digits, spaces and +.", code="invalid_phone")
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        if not (digits.startswith("44") and len(digits) in (11, 12)):
            raise ValidationError(
                "Enter a UK phone number, like 0113 496 0000 or +44 113 496 0000.", code="invalid_phone"
            )
    elif not (digits.startswith("0") and len(digits) in (10, 11)):
        raise ValidationError("Enter a UK phone number, like 0113 496 0000.", code="invalid_phone")
    return " ".join(raw.split())


_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def normalise_postcode(value: str) -> str:
    compact = (value or "").strip().upper()
    match = _POSTCODE.match(compact)
    if not match:
        raise ValidationError("Enter a full UK postcode, like LS1 4AP.", code="invalid_postcode")
    return f"{match.group(1)} {match.group(2)}"


# --- values of the directory's entries ------------------------------------------------------------
# The one set of rules for the directory's text, email, web address and code values: the CSV and
# NHSBSA imports (directory.importer, directory.nhsbsa) and the directory manager's forms
# (directory.forms) all call these, so a value one accepts the others accept, with the same message.


def clean_text(value: str, max_length: int) -> str:
    """One line of text, repeated spaces collapsed, at most `max_length` characters."""
    text = " ".join((value or "").split())
    if len(text) > max_length:
        raise ValidationError(f"Use {max_length} characters or fewer (this has {len(text)}).", code="max_length")
    return text


def clean_multiline(value: str) -> str:
    """Several lines, each tidied, blank lines dropped."""
    lines = (" ".join(line.split()) for line in (value or "").replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError("Enter an email address like ra.team@nhs.net.", code="invalid_email") from None
    return email


def normalise_url(value: str) -> str:
    url = (value or "").strip()
    try:
        _url_validator(url)
    except ValidationError:
        raise ValidationError("Enter a full web address starting with https://.", code="invalid_url") from None
    return url


_url_validator = URLValidator(schemes=["http", "https"])
_ORG_CODE = re.compile(r"^[A-Z0-9]{1,10}$")


def normalise_org_code(value: str, what: str = "code") -> str:
    """An NHS organisation code as NHSBSA publishes it (an LPC code, an ICB code): 1 to 10 letters
    or digits, stored in capitals."""
    code = "".join((value or "").split()).upper()
    if not _ORG_CODE.match(code):
        raise ValidationError(f"Enter the {what} as 1 to 10 letters or digits, like QWO.", code="invalid_code")
    return code
