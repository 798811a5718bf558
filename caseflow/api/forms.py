"""Describe a task's form (its marshmallow schema) as JSON for API clients."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

import workflows
from caseflow import forms
from caseflow.views.present import lookups

# the most specific marshmallow field classes first
_TYPES: list[tuple[type, str]] = [
    (fields.Boolean, "boolean"), (fields.DateTime, "datetime"), (fields.Date, "date"),
    (fields.Decimal, "decimal"), (fields.Integer, "integer"), (fields.Float, "number"),
    (fields.List, "array"),
]


def _type(field: fields.Field) -> str:
    for cls, name in _TYPES:
        if isinstance(field, cls):
            return name
    return "string"


def _schema(process_id: str, task_spec: str) -> Schema | None:
    try:
        schema_cls = workflows.form(process_id, task_spec)
    except workflows.UnknownProcess:
        return None
    return schema_cls() if schema_cls is not None else None


def form_fields(process_id: str, task_spec: str) -> list[dict[str, Any]]:
    """Return the fields of a step's form: name, type, required, choices, zh/en labels."""
    schema = _schema(process_id, task_spec)
    if schema is None:
        return []
    zh = forms.describe(schema, "zh_CN", {}, lookups=lookups("zh_CN"))
    en = forms.describe(schema, "en", {}, lookups=lookups("en"))
    out = []
    for f_zh, f_en in zip(zh, en, strict=True):
        english = dict(f_en.choices)
        out.append({
            "name": f_zh.name, "type": _type(schema.fields[f_zh.name]), "widget": f_zh.widget,
            "required": f_zh.required, "label": {"zh": f_zh.label, "en": f_en.label},
            "help": {"zh": f_zh.help, "en": f_en.help or f_zh.help} if f_zh.help else None,
            "choices": [{"value": value, "label": {"zh": label, "en": english.get(value, label)}}
                        for value, label in f_zh.choices],
            "max_length": f_zh.max_length, "confidential": f_zh.confidential,
        })
    return out
