"""One canonical form of a phone number, to match an AML message with its call.

The same Indonesian mobile reaches us as ``+6281234567890`` (SIP, AML
``device_number``), ``6281234567890`` (SMS sender) or ``081234567890``
(national caller ID). All become ``+6281234567890``: country code 62, the
trunk prefix 0 dropped.
"""

from __future__ import annotations

import re

#: Indonesia's country calling code.
COUNTRY_CODE = "62"
#: The national trunk prefix.
TRUNK_PREFIX = "0"
#: The international call prefix.
INTERNATIONAL_PREFIX = "00"
#: Shortest national number (without the trunk prefix) taken as a full number
#: when written as 62...: shorter ones are local or service numbers and left alone.
_MIN_NATIONAL_DIGITS = 8

_SEPARATORS = re.compile(r"[\s\-().\/]")


def canonical_number(number: str) -> str:
    """``+62…`` for Indonesian numbers, ``+CC…`` for other international ones,
    the bare digits for short/local numbers, and ``""`` when there is no number.

    Accepts ``tel:`` URIs and SIP-style parameters (``;user=phone``), spaces,
    dashes, dots and parentheses.
    """
    text = number.strip() if number else ""
    if text.lower().startswith("tel:"):
        text = text[4:]
    text = text.split(";", 1)[0]
    international = text.startswith("+")
    digits = _SEPARATORS.sub("", text).lstrip("+")
    if not digits.isdigit() or not digits.isascii():
        return ""
    if international:
        return "+" + digits
    if digits.startswith(INTERNATIONAL_PREFIX) and len(digits) > len(INTERNATIONAL_PREFIX):
        return "+" + digits[len(INTERNATIONAL_PREFIX) :]
    national = digits[len(TRUNK_PREFIX) :]
    if digits.startswith(TRUNK_PREFIX) and national and not national.startswith("0"):
        return "+" + COUNTRY_CODE + national
    if digits.startswith(COUNTRY_CODE) and len(digits) - len(COUNTRY_CODE) >= _MIN_NATIONAL_DIGITS:
        return "+" + digits
    return digits


def same_number(a: str, b: str) -> bool:
    """Both are usable numbers and canonically equal."""
    left = canonical_number(a)
    return bool(left) and left == canonical_number(b)
