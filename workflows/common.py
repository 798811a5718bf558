"""What the process modules share: form-field builders, validators and time helpers.

A field's metadata carries its Chinese and English label and help and the widget the
form renderer draws; `lookup` fields name an editable list the app checks codes against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate

from caseflow import clock

# Chinese versions of the validators' messages (the form shows the user's language).
MESSAGES_ZH: dict[str, str] = {
    "must not be in the future": "不能晚于当前时间",
    "must not be in the past": "不能早于当前时间",
}


def aware(value: datetime) -> datetime:
    """Return `value` with UTC attached when it carries no zone."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def not_future(value: datetime | date) -> None:
    """Refuse a time (or date) later than now (one minute of clock skew allowed)."""
    now = clock.now()
    if isinstance(value, datetime):
        if aware(value) > now + timedelta(minutes=1):
            raise ValidationError("must not be in the future")
    elif value > (now + timedelta(hours=8)).date():  # dates are Asia/Shanghai dates
        raise ValidationError("must not be in the future")


def not_past(value: datetime) -> None:
    """Refuse an appointment earlier than now (five minutes of slack)."""
    if aware(value) < clock.now() - timedelta(minutes=5):
        raise ValidationError("must not be in the past")


def meta(zh: str, en: str, help_zh: str | None = None, help_en: str | None = None,
         **extra: Any) -> dict[str, Any]:
    """Return a field's metadata: Chinese and English label and help, plus `extra`."""
    out: dict[str, Any] = {"label": {"zh": zh, "en": en}}
    if help_zh or help_en:
        out["help"] = {"zh": help_zh or help_en, "en": help_en or help_zh}
    out.update(extra)
    return out


def choice(values: Mapping[str, tuple[str, str]], zh: str, en: str, *, required: bool = True,
           widget: str = "select", default: Any = None, help_zh: str | None = None,
           help_en: str | None = None) -> fields.String:
    """Return a fixed enum (validate.OneOf) with Chinese and English labels per value."""
    info = meta(zh, en, help_zh, help_en, widget=widget,
                choices={k: {"zh": v[0], "en": v[1]} for k, v in values.items()})
    if required:
        return fields.String(required=True, validate=validate.OneOf(list(values)),
                             metadata=info)
    return fields.String(load_default=default, validate=validate.OneOf(list(values)),
                         metadata=info)


def text(zh: str, en: str, *, max_length: int = 200, required: bool = False,
         widget: str = "text", help_zh: str | None = None, help_en: str | None = None,
         **extra: Any) -> fields.String:
    """Return a free-text field (optional unless `required`), at most `max_length` characters."""
    info = meta(zh, en, help_zh, help_en, widget=widget, **extra)
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_length),
                             metadata=info)
    return fields.String(load_default=None, validate=validate.Length(max=max_length),
                         metadata=info)


MONEY_MAX = Decimal("9999999999.99")  # the money columns hold 12 digits: sums stay in range


def amount(zh: str, en: str, *, required: bool = False, default: Any = None,
           help_zh: str | None = None, help_en: str | None = None) -> fields.Decimal:
    """Return an amount of money in CNY, kept as a two-place decimal string."""
    info = meta(zh, en, help_zh, help_en, widget="money")
    kwargs: dict[str, Any] = {"required": True} if required else {"load_default": default}
    return fields.Decimal(as_string=True, places=2, validate=validate.Range(min=0, max=MONEY_MAX),
                          metadata=info, **kwargs)


def when(zh: str, en: str, *, required: bool = False, past: bool = True,
         help_zh: str | None = None, help_en: str | None = None) -> fields.AwareDateTime:
    """Return a time with zone; `past` refuses a future one, otherwise a past one."""
    info = meta(zh, en, help_zh, help_en, widget="datetime")
    check = not_future if past else not_past
    kwargs: dict[str, Any] = {"required": True} if required else {"load_default": None}
    return fields.AwareDateTime(default_timezone=UTC, validate=check, metadata=info, **kwargs)


def day(zh: str, en: str, *, required: bool = True) -> fields.Date:
    """Return a date not in the future."""
    info = meta(zh, en, widget="date")
    kwargs: dict[str, Any] = {"required": True} if required else {"load_default": None}
    return fields.Date(validate=not_future, metadata=info, **kwargs)


def flag(zh: str, en: str, *, default: bool = False, help_zh: str | None = None,
         help_en: str | None = None) -> fields.Boolean:
    """Return a yes/no box."""
    return fields.Boolean(load_default=default,
                          metadata=meta(zh, en, help_zh, help_en, widget="boolean"))


def lookup(kind: str, zh: str, en: str, *, required: bool = False, many: bool = False,
           help_zh: str | None = None, help_en: str | None = None) -> fields.Field:
    """Return a code from an editable list; the app checks it against the lookups table."""
    info = meta(zh, en, help_zh, help_en, lookup=kind,
                widget="checkboxes" if many else "select")
    if many:
        return fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                           load_default=list, metadata=info)
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=50),
                             metadata=info)
    return fields.String(load_default=None, validate=validate.Length(max=50), metadata=info)


def need(errors: dict[str, list[str]], field: str, message: str) -> None:
    """Add `message` to the errors of `field`."""
    errors.setdefault(field, []).append(message)


_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def add_duration(start: str, duration: str) -> str:
    """Return the ISO time `duration` (ISO 8601 weeks/days/time, e.g. PT1H) after `start`."""
    match = _DURATION.fullmatch(str(duration).strip().upper())
    if match is None or duration in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration (weeks, days, hours...): {duration!r}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return (aware(datetime.fromisoformat(start)) + delta).isoformat()
