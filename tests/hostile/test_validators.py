"""The directory's formats against hostile text: only ASCII digits make a Smartcard number, a
phone number, an ODS code or a reference; anything else is a ValidationError, never a crash."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings

from directory.validators import normalise_ods_code, normalise_phone, normalise_postcode, normalise_smartcard_number
from issues.models import parse_number, parse_reference
from issues.selectors.cases import parse_case_reference
from tests.hostile.strategies import NASTY, api_text

NON_ASCII_DIGITS = [
    "٠١٢٣٤٥٦٧٨٩٠١",
    "１２３４５６７８９０１２",
    "۰۱۲۳۴۵۶۷۸۹۰۱",
    "߀߁߂߃߄߅߆߇߈߉߀߁",
    "１２３４ ５６７８ ９０１２",
]


@pytest.mark.parametrize("number", NON_ASCII_DIGITS)
def test_it_refuses_digits_of_other_scripts_as_a_smartcard_number(number: str) -> None:
    with pytest.raises(ValidationError):
        normalise_smartcard_number(number)


def test_it_still_takes_a_smartcard_number_in_groups() -> None:
    assert normalise_smartcard_number("1234 5678 9012") == "123456789012"
    with pytest.raises(ValidationError):
        normalise_smartcard_number("123456789012\n1")


@pytest.mark.parametrize("number", ["٠١١٣٤٩٦٠٠٠٠", "０１１３ ４９６ ００００"])
def test_it_refuses_digits_of_other_scripts_as_a_phone_number(number: str) -> None:
    with pytest.raises(ValidationError):
        normalise_phone(number)


@pytest.mark.parametrize("text", ["SC-²", "SC-١٢٣", "²", "١٢٣", "SC-" + "9" * 13, "9" * 13, "SC-", ""])
def test_it_reads_no_reference_from_what_is_not_one(text: str) -> None:
    assert parse_reference(text) is None
    assert parse_number(text) is None
    assert parse_case_reference(text.replace("SC", "CASE")) is None


@settings(max_examples=60, deadline=None)
@given(api_text)
def test_it_answers_any_text_with_a_value_or_a_validation_error(text: str) -> None:
    for normalise in (normalise_ods_code, normalise_phone, normalise_postcode, normalise_smartcard_number):
        try:
            value = normalise(text)
        except ValidationError:
            continue
        assert value.isascii(), (normalise.__name__, text)
    for parse in (parse_reference, parse_number):
        number = parse(text)
        assert number is None or 0 <= number < 10**12


def test_the_nasty_list_holds_the_long_and_the_empty_string() -> None:
    assert "" in NASTY and any(len(text) >= 100_000 for text in NASTY)
