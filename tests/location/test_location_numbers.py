"""One canonical form per phone number, Indonesian numbering first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngcc112.location.numbers import canonical_number, same_number


@pytest.mark.parametrize(
    "number",
    [
        "+6281234567890",
        "6281234567890",
        "081234567890",
        "0812-3456-7890",
        "0812 3456 7890",
        "(0812) 3456.7890",
        "006281234567890",
        "tel:+62-812-3456-7890",
        "+6281234567890;user=phone",
        " 6281234567890 ",
    ],
)
def test_one_mobile_number_written_many_ways(number: str) -> None:
    assert canonical_number(number) == "+6281234567890"


@pytest.mark.parametrize(
    ("number", "canonical"),
    [
        ("0215551234", "+62215551234"),  # k_caller_id_variants (4b): Jakarta landline
        ("+447700900123", "+447700900123"),
        ("5550601", "5550601"),  # short/test numbers are left alone
        ("112", "112"),
        ("6212", "6212"),
        ("0", "0"),
        ("00", "00"),
        ("", ""),
        ("<unknown>", ""),
        ("anonymous", ""),
        ("+", ""),
        ("٠٨١٢", ""),  # non-ASCII digits are not a dialable number
    ],
)
def test_other_numbers(number: str, canonical: str) -> None:
    assert canonical_number(number) == canonical


def test_same_number_needs_a_usable_number_on_both_sides() -> None:
    assert same_number("081234567890", "+6281234567890")
    assert not same_number("", "")
    assert not same_number("<unknown>", "anonymous")
    assert not same_number("081234567890", "081234567891")


@given(st.text(max_size=40))
def test_canonical_form_is_stable(number: str) -> None:
    once = canonical_number(number)
    assert canonical_number(once) == once
