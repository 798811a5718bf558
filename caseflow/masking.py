"""Mask sensitive numbers (ID card, phone, bank account) for display, lists and logs."""

from __future__ import annotations


def _mask(value: str | None, keep_start: int, keep_end: int) -> str:
    """Keep the first and last characters; star out the middle (at least one star)."""
    if not value:
        return ""
    text = str(value).strip()
    if len(text) <= keep_start + keep_end:
        keep_start, keep_end = 0, min(keep_end, max(len(text) - 1, 0))
    middle = len(text) - keep_start - keep_end
    tail = text[len(text) - keep_end:] if keep_end else ""
    return text[:keep_start] + "*" * max(middle, 1) + tail


def id_card(value: str | None) -> str:
    """Mask an ID-card number: 370102200501011233 → 3701**********1233."""
    return _mask(value, 4, 4)


def phone(value: str | None) -> str:
    """Mask a phone number: 13800000000 → 138****0000."""
    return _mask(value, 3, 4)


def account(value: str | None) -> str:
    """Mask a bank or payment account, keeping its last four characters."""
    return _mask(value, 0, 4)


MASKS = {"id_card": id_card, "phone": phone, "bank_account": account}


def mask(kind: str, value: str | None) -> str:
    """Mask `value` as the sensitive kind says (id_card, phone, bank_account)."""
    return MASKS.get(kind, account)(value)
