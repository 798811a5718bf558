"""Turn stored values (form data, audit details) into what a screen shows, in the viewer's
language, with confidential fields hidden and sensitive numbers masked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel.numbers import format_currency
from flask import g
from marshmallow import Schema, fields
from sqlalchemy import select

import workflows
from caseflow import forms, masking, timefmt
from caseflow.db import db
from caseflow.models import Lookup
from caseflow.views import fast_gettext as _


@dataclass
class Item:
    """One labelled value; `kind` is 'confidential' or 'masked' when it was held back."""

    label: str
    text: str
    kind: str | None = None


def lookups(lang: str) -> dict[str, list[tuple[str, str]]]:
    """Return the active editable lists (kind → [(code, label)]) in `lang`, once a request."""
    cache = g.setdefault("_lookups", {})
    if lang not in cache:
        out: dict[str, list[tuple[str, str]]] = {}
        label = Lookup.label_zh if lang.startswith("zh") else Lookup.label_en
        # plain rows, not ORM objects: every task form reads the whole list
        rows = db.session.execute(select(Lookup.kind, Lookup.code, label)
                                  .where(Lookup.active.is_(True))
                                  .order_by(Lookup.kind, Lookup.sort, Lookup.id))
        for kind, code, text in rows:
            out.setdefault(kind, []).append((code, text))
        cache[lang] = out
    return cache[lang]


_LOCALES = {"zh": Locale.parse("zh_CN"), "en": Locale.parse("en")}


def money(value: Any, lang: str) -> str:
    """Format an amount of CNY for the locale (¥8,000.00)."""
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        return str(value)
    locale = _LOCALES["zh" if lang.startswith("zh") else "en"]
    return format_currency(amount, "CNY", locale=locale)


def when(value: Any) -> str:
    """Format a stored time (datetime or ISO text) in Asia/Shanghai."""
    if isinstance(value, datetime):
        return timefmt.short(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return timefmt.short(parsed) if parsed.tzinfo else str(value)


def yes_no(value: Any) -> str:
    """Return Yes or No."""
    return _("Yes") if value in (True, "true", "True", 1) else _("No")


def _value(f: fields.Field, value: Any, lang: str, options: Mapping[str, str],
           people: Mapping[int, str]) -> str:
    widget = f.metadata.get("widget")
    if isinstance(f, fields.Boolean):
        return yes_no(value)
    if isinstance(f, fields.List):
        return "、".join(options.get(str(v), str(v)) for v in value)
    if options:
        return options.get(str(value), str(value))
    if isinstance(f, fields.DateTime):
        return when(value)
    if isinstance(f, fields.Decimal) or widget == "money":
        return money(value, lang)
    if isinstance(f, fields.Integer) and widget == "select" and isinstance(value, int):
        return people.get(value, str(value))
    return str(value)


def _described(schema_cls: type[Schema], lang: str
               ) -> tuple[Schema, dict[str, tuple[str, dict[str, str]]]]:
    """Return a schema and its fields as described in `lang`, once per request."""
    cache = g.setdefault("_described", {})
    key = (schema_cls, lang)
    if key not in cache:
        schema = schema_cls()
        fields_ = forms.describe(schema, lang, {}, lookups=lookups(lang))
        cache[key] = (schema, {f.name: (f.label, dict(f.choices)) for f in fields_})
    return cache[key]


def form_items(schema_cls: type[Schema] | None, data: Mapping[str, Any], lang: str,
               confidential_ok: bool, people: Mapping[int, str] | None = None,
               skip: tuple[str, ...] = (), notes: Mapping[str, str] | None = None
               ) -> list[Item]:
    """Return the non-empty values of a form's data, labelled by its schema.

    Confidential fields show their note (from `notes`) only when `confidential_ok`;
    sensitive numbers show masked, as the trail stores them.
    """
    if not data:
        return []
    if schema_cls is None:
        return [Item(str(k), str(v)) for k, v in data.items() if v not in (None, "", [])]
    schema, described = _described(schema_cls, lang)
    items = []
    for name, f in schema.fields.items():
        value = data.get(name)
        if name in skip or value in (None, "", []):
            continue
        label, options = described.get(name, (name, {}))
        if f.metadata.get("confidential"):
            items.append(_confidential(label, value, confidential_ok, (notes or {}).get(name)))
        elif f.metadata.get("sensitive"):
            shown = value.get("masked", "") if isinstance(value, Mapping) else masking.mask(
                f.metadata["sensitive"], str(value))
            items.append(Item(label, str(shown), "masked"))
        else:
            items.append(Item(label, _value(f, value, lang, options, people or {})))
    return items


def _confidential(label: str, value: Any, allowed: bool, note: str | None) -> Item:
    if allowed and note is not None:
        return Item(label, note)
    if allowed and isinstance(value, str):  # written before notes had their own table
        return Item(label, value)
    return Item(label, _("Confidential: only the psych centre may read it."), "confidential")


def step_items(process_id: str, task_spec: str, data: Mapping[str, Any], lang: str,
               confidential_ok: bool, people: Mapping[int, str] | None = None,
               notes: Mapping[str, str] | None = None) -> list[Item]:
    """Return a completed step's data as the viewer may see it."""
    try:
        schema_cls = workflows.form(process_id, task_spec)
    except workflows.UnknownProcess:
        schema_cls = None
    return form_items(schema_cls, data, lang, confidential_ok, people, notes=notes)


def registration_items(process_id: str, data: Mapping[str, Any], lang: str) -> list[Item]:
    """Return a registration's (or finding's) facts, labelled."""
    try:
        schema_cls = getattr(workflows.describe(process_id), "REGISTRATION", None)
    except workflows.UnknownProcess:
        schema_cls = None
    return form_items(schema_cls, data, lang, False, skip=("student_id",))
