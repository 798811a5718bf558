"""Describe a marshmallow schema as form fields for the one generic form template.

Also: turn submitted form data into what the schema loads (keeping what was typed for
redisplay), and put marshmallow's standard error messages in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from caseflow import timefmt

_WIDGETS: list[tuple[type, str]] = [
    (fields.Boolean, "boolean"),
    (fields.AwareDateTime, "datetime"),
    (fields.DateTime, "datetime"),
    (fields.Date, "date"),
    (fields.Decimal, "money"),
    (fields.Integer, "number"),
    (fields.Float, "number"),
    (fields.List, "checkboxes"),
]
TRUE_WORDS = ("on", "true", "1", "yes")
Choices = list[tuple[str, str]]


@dataclass
class FormField:
    """One field as the template renders it."""

    name: str
    label: str
    widget: str
    required: bool
    help: str | None = None
    choices: Choices = field(default_factory=list)
    value: Any = None
    errors: list[str] = field(default_factory=list)
    confidential: bool = False
    max_length: int | None = None


def _text(meta: Any, lang: str, fallback: str) -> str:
    if isinstance(meta, Mapping):
        return str(meta.get("zh" if lang.startswith("zh") else "en") or meta.get("zh")
                   or fallback)
    return str(meta) if meta else fallback


def _validators(f: fields.Field) -> list[Any]:
    return list(getattr(f, "validators", []) or [])


def _choices(f: fields.Field, lang: str, lookups: Mapping[str, Choices]) -> Choices:
    meta = f.metadata
    if meta.get("lookup"):
        return list(lookups.get(meta["lookup"], []))
    inner = f.inner if isinstance(f, fields.List) else f
    labels = meta.get("choices") or inner.metadata.get("choices") or {}
    for v in _validators(inner):
        if isinstance(v, validate.OneOf):
            return [(str(c), _text(labels.get(c), lang, str(c))) for c in v.choices]
    if isinstance(f, fields.Boolean) and meta.get("widget") in ("radio", "select"):
        return [("true", _("Yes")), ("false", _("No"))]
    return []


def _widget(f: fields.Field, has_choices: bool) -> str:
    if f.metadata.get("widget"):
        return str(f.metadata["widget"])
    for cls, name in _WIDGETS:
        if isinstance(f, cls):
            return name
    return "select" if has_choices else "text"


def _max_length(f: fields.Field) -> int | None:
    for v in _validators(f):
        if isinstance(v, validate.Length) and v.max is not None:
            return int(v.max)
    return None


def _initial(f: fields.Field) -> Any:
    """Return a field's default as the form shows it ('' when it has none)."""
    default = f.load_default
    if callable(default) or default is None or str(default) == "<marshmallow.missing>":
        return [] if isinstance(f, fields.List) else None
    if isinstance(f, fields.Boolean) and f.metadata.get("widget") in ("radio", "select"):
        return "true" if default else "false"
    if isinstance(default, Decimal):
        return f"{default:.2f}"
    return default


def describe(schema: Schema, lang: str, values: Mapping[str, Any] | None = None,
             errors: Mapping[str, Any] | None = None,
             lookups: Mapping[str, Choices] | None = None, *,
             choices: Mapping[str, Choices] | None = None,
             skip: Collection[str] = (),
             defaults: Mapping[str, Any] | None = None) -> list[FormField]:
    """Return the fields of `schema` with labels in `lang`, values and error messages.

    With no `values` the fields show their defaults. `choices` gives the options of a
    field the schema cannot list itself (e.g. the counselors of a college); fields named
    in `skip` are left out (e.g. the student of a registration, chosen before);
    `defaults` fills fields that have no value and no default of their own.
    """
    out = []
    for name, f in schema.fields.items():
        if f.dump_only or name in skip:
            continue
        meta = f.metadata
        options = list((choices or {}).get(name) or _choices(f, lang, lookups or {}))
        value = values.get(name) if values is not None else _initial(f)
        if value is None and defaults:
            value = defaults.get(name)
        out.append(FormField(
            name=name, label=_text(meta.get("label"), lang, name),
            widget=_widget(f, bool(options)), required=f.required,
            help=_text(meta.get("help"), lang, "") or None, choices=options,
            value=value, errors=flat_messages((errors or {}).get(name)),
            confidential=bool(meta.get("confidential")), max_length=_max_length(f),
        ))
    return out


def raw_values(schema: Schema, form: Any) -> dict[str, Any]:
    """Return what the user typed, field by field, for redisplay and drafts."""
    data: dict[str, Any] = {}
    for name, f in schema.fields.items():
        if f.dump_only:
            continue
        if isinstance(f, fields.List):
            data[name] = [v for v in form.getlist(name) if v != ""]
        elif isinstance(f, fields.Boolean) and f.metadata.get("widget") not in ("radio",
                                                                                 "select"):
            data[name] = form.get(name) in TRUE_WORDS
        else:
            data[name] = str(form.get(name, "")).strip()
    return data


def _local_time(text: str) -> str:
    """Read a datetime-local value (no offset) as Asia/Shanghai time."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?", text):
        return text + "+08:00"
    return text


def to_load(schema: Schema, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn typed values into the dict the schema loads (blanks left out, local times)."""
    data: dict[str, Any] = {}
    for name, f in schema.fields.items():
        if f.dump_only or name not in raw:
            continue
        value = raw[name]
        if isinstance(value, list | bool):
            data[name] = value
        elif value not in ("", None):
            data[name] = _local_time(str(value)) if isinstance(f, fields.DateTime) else value
    return data


def parse_form(schema: Schema, form: Any) -> dict[str, Any]:
    """Turn submitted form data into the raw dict the schema loads (lists, booleans, blanks)."""
    return to_load(schema, raw_values(schema, form))


def shown(value: Any) -> Any:
    """Return a stored value as a form shows it (local times for datetime-local inputs)."""
    if isinstance(value, datetime):
        return timefmt.local(value).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


# -- error messages in the user's language ----------------------------------------------

@lru_cache(maxsize=1)
def _rules() -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]:
    """Return (pattern of a marshmallow message, its translation) pairs."""
    table: list[tuple[str, Callable[[re.Match[str]], str]]] = [
        (r"Missing data for required field\.|Field may not be null\.",
         lambda m: _("This field is required.")),
        (r"Not a valid integer\.", lambda m: _("Enter a whole number.")),
        (r"Not a valid number\.|Special numeric values.*", lambda m: _("Enter a number.")),
        (r"Number too large\.", lambda m: _("This number is too large.")),
        (r"Not a valid (aware |naive )?datetime\.", lambda m: _("Enter a date and time.")),
        (r"Not a valid date\.", lambda m: _("Enter a date.")),
        (r"Not a valid boolean\.", lambda m: _("Choose yes or no.")),
        (r"Must be one of: .*", lambda m: _("Choose one of the options listed.")),
        (r"Length must be between (\d+) and (\d+)\.",
         lambda m: _("Enter between %(min)s and %(max)s characters.", min=m[1], max=m[2])),
        (r"Longer than maximum length (\d+)\.",
         lambda m: _("Enter at most %(max)s characters.", max=m[1])),
        (r"Shorter than minimum length (\d+)\.",
         lambda m: _("Enter at least %(min)s characters.", min=m[1])),
        (r"Must be greater than or equal to (\S+?)\.?",
         lambda m: _("Enter %(min)s or more.", min=m[1])),
        (r"Must be greater than (\S+?)\.?", lambda m: _("Enter more than %(min)s.", min=m[1])),
        (r"Must be less than or equal to (\S+?)\.?",
         lambda m: _("Enter %(max)s or less.", max=m[1])),
        (r"Must be less than (\S+?)\.?", lambda m: _("Enter less than %(max)s.", max=m[1])),
        (r"Must be greater than or equal to (\S+) and less than or equal to (\S+?)\.?",
         lambda m: _("Enter a value from %(min)s to %(max)s.", min=m[1], max=m[2])),
        (r"Must be equal to True\.", lambda m: _("Tick this box to go on.")),
        (r"Unknown field\.", lambda m: _("This field is not part of the form.")),
        (r"Not a valid .*|Invalid .*", lambda m: _("This value is not valid.")),
    ]
    return [(re.compile(p), fn) for p, fn in table]


def translate(message: str, lang: str, extra: Mapping[str, str] | None = None) -> str:
    """Return one validation message in `lang` (marshmallow's and the process's own)."""
    if lang.startswith("zh") and extra and message in extra:
        return extra[message]
    for pattern, fn in _rules():
        found = pattern.fullmatch(message)
        if found:
            return fn(found)
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "。")) or lang.startswith("zh") else text + "."


def flat_messages(errs: Any) -> list[str]:
    """Flatten marshmallow's nested messages (lists of list items, dicts) to strings."""
    if not errs:
        return []
    if isinstance(errs, Mapping):
        return [m for v in errs.values() for m in flat_messages(v)]
    if isinstance(errs, list | tuple):
        return [m for v in errs for m in flat_messages(v)]
    return [str(errs)]


def translate_errors(errors: Mapping[str, Any], lang: str,
                     extra: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Return field → messages, flattened and in the user's language."""
    out: dict[str, list[str]] = {}
    for name, errs in errors.items():
        out[str(name)] = [translate(m, lang, extra) for m in flat_messages(errs)]
    return out
