"""Describe a marshmallow schema as form fields for the one generic form template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate

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


@dataclass
class FormField:
    """One field as the template renders it."""

    name: str
    label: str
    widget: str
    required: bool
    help: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    errors: list[str] = field(default_factory=list)
    confidential: bool = False
    max_length: int | None = None


def _text(meta: Any, lang: str, fallback: str) -> str:
    if isinstance(meta, Mapping):
        return str(meta.get("zh" if lang.startswith("zh") else "en") or meta.get("zh")
                   or fallback)
    return str(meta) if meta else fallback


def _choices(f: fields.Field, lang: str, lookups: Mapping[str, list[tuple[str, str]]]
             ) -> list[tuple[str, str]]:
    meta = f.metadata
    if meta.get("lookup"):
        return list(lookups.get(meta["lookup"], []))
    inner = f.inner if isinstance(f, fields.List) else f
    labels = meta.get("choices") or inner.metadata.get("choices") or {}
    for v in _validators(inner):
        if isinstance(v, validate.OneOf):
            return [(str(c), _text(labels.get(c), lang, str(c))) for c in v.choices]
    return []


def _validators(f: fields.Field) -> list[Any]:
    return list(getattr(f, "validators", []) or [])


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


def describe(schema: Schema, lang: str, values: Mapping[str, Any] | None = None,
             errors: Mapping[str, Any] | None = None,
             lookups: Mapping[str, list[tuple[str, str]]] | None = None) -> list[FormField]:
    """Return the fields of `schema` with labels in `lang`, values and error messages."""
    out = []
    for name, f in schema.fields.items():
        if f.dump_only:
            continue
        meta = f.metadata
        choices = _choices(f, lang, lookups or {})
        errs = (errors or {}).get(name) or []
        if isinstance(errs, Mapping):
            errs = [str(m) for v in errs.values() for m in (v if isinstance(v, list) else [v])]
        out.append(FormField(
            name=name, label=_text(meta.get("label"), lang, name),
            widget=_widget(f, bool(choices)), required=f.required,
            help=_text(meta.get("help"), lang, "") or None, choices=choices,
            value=(values or {}).get(name), errors=[str(e) for e in errs],
            confidential=bool(meta.get("confidential")), max_length=_max_length(f),
        ))
    return out


def parse_form(schema: Schema, form: Any) -> dict[str, Any]:
    """Turn submitted form data into the raw dict the schema loads (lists, booleans, blanks)."""
    data: dict[str, Any] = {}
    for name, f in schema.fields.items():
        if f.dump_only:
            continue
        if isinstance(f, fields.List):
            data[name] = [v for v in form.getlist(name) if v != ""]
        elif isinstance(f, fields.Boolean) and f.metadata.get("widget") != "select":
            data[name] = form.get(name) in ("on", "true", "1", "yes")
        else:
            value = form.get(name, "")
            if value != "":
                data[name] = value
    return data
