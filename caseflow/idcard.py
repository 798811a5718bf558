"""Chinese resident ID-card numbers (身份证号, GB 11643-1999): shape and check character."""

from __future__ import annotations

import re

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_DIGITS = frozenset("0123456789")
# 18 characters since 1999; 15-digit first-generation numbers carry no check character
SHAPE = re.compile(r"\d{17}[\dX]|\d{15}")


def check_digit(body: str) -> str:
    """Return the GB 11643 check character of the first 17 digits of a 身份证号."""
    if len(body) != 17 or not set(body) <= _DIGITS:
        raise ValueError("body must be exactly 17 ASCII digits")
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def checksum_ok(s: str) -> bool:
    """Say whether `s` is 17 ASCII digits plus their correct check character.

    A lowercase ``x`` is accepted. Only the shape and the check character are verified, not
    whether the region code or birth date exist; callers strip whitespace themselves.
    """
    if not isinstance(s, str) or len(s) != 18 or not set(s[:17]) <= _DIGITS:
        return False
    return check_digit(s[:17]) == s[17].upper()


NOT_A_NUMBER = "not an ID-card number"
# any one mistyped digit, and most swaps of two, change the check character
WRONG_CHECK = "the last character does not match the others: check the number"


def problem(number: str) -> str | None:
    """Return what is wrong with a cleaned (upper-case, no spaces) number, or None."""
    if not SHAPE.fullmatch(number):
        return NOT_A_NUMBER
    if len(number) == 18 and not checksum_ok(number):
        return WRONG_CHECK
    return None
