"""The formats of domain/smartcard-problems.md: ODS codes, Smartcard numbers, phones, postcodes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from directory.validators import (
    normalise_ods_code,
    normalise_phone,
    normalise_postcode,
    normalise_smartcard_number,
    validate_ods_code,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("FW844", "FW844"), (" fw844 ", "FW844"), ("F1A2B", "F1A2B"), ("A1B2C", "A1B2C"), ("fffff", "FFFFF")],
)
def test_it_accepts_old_and_new_ods_codes_and_the_locum_code(typed, stored):
    assert normalise_ods_code(typed) == stored


@pytest.mark.parametrize("typed", ["FW84", "FW8444", "GW844", "F-844", "A1B2", "AAB2C", "12345", "F W844"])
def test_it_rejects_what_is_not_an_ods_code(typed):
    with pytest.raises(ValidationError) as caught:
        normalise_ods_code(typed)
    assert caught.value.code == "invalid_ods"


def test_it_asks_for_a_missing_ods_code():
    with pytest.raises(ValidationError, match="Enter the pharmacy's ODS code"):
        normalise_ods_code("  ")


def test_it_stores_ods_codes_only_in_capitals():
    validate_ods_code("FW844")
    with pytest.raises(ValidationError):
        validate_ods_code("fw844")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("123456789012", "123456789012"), ("1234 5678 9012", "123456789012"), ("1234-5678-9012", "123456789012")],
)
def test_it_accepts_a_twelve_digit_smartcard_number_as_people_type_it(typed, stored):
    assert normalise_smartcard_number(typed) == stored


@pytest.mark.parametrize("typed", ["", "12345678901", "1234567890123", "12345678901A", "01"])
def test_it_rejects_what_is_not_a_smartcard_number(typed):
    with pytest.raises(ValidationError, match="12-digit Smartcard number"):
        normalise_smartcard_number(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0113 496 0000", "0113 496 0000"),
        ("  01134960000 ", "01134960000"),
        ("+44 113 496 0000", "+44 113 496 0000"),
        ("(0113) 496-0000", "(0113) 496-0000"),
        ("020  7946   0000", "020 7946 0000"),
    ],
)
def test_it_accepts_uk_phone_numbers(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", ["", "12345", "0113 496", "+1 202 555 0100", "0113 496 0000 ext 2", "1113 496 0000"])
def test_it_rejects_what_is_not_a_uk_phone_number(typed):
    with pytest.raises(ValidationError):
        normalise_phone(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("LS1 4AP", "LS1 4AP"),
        ("ls14ap", "LS1 4AP"),
        (" m1 1ae ", "M1 1AE"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("W1A0AX", "W1A 0AX"),
    ],
)
def test_it_accepts_uk_postcodes_with_or_without_the_space(typed, stored):
    assert normalise_postcode(typed) == stored


@pytest.mark.parametrize("typed", ["", "LS1", "LS1 4A", "1LS 4AP", "LS1 4APX", "LS1-4AP"])
def test_it_rejects_what_is_not_a_full_postcode(typed):
    with pytest.raises(ValidationError, match="full UK postcode"):
        normalise_postcode(typed)
