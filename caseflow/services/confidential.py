"""Keep confidential and identifying form values out of workflow data and clear audit text.

A field whose schema metadata says ``confidential`` (the psych centre's session notes) is
stored in its own table and replaced in the task data by a reference; the audit detail
records that it was written and a keyed digest. A field marked ``sensitive`` (an ID card,
phone or bank account) stays in the task data but appears in audit detail masked, with a
keyed digest, so an auditor can confirm a value without seeing it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema

from caseflow import audit, clock, masking
from caseflow.db import db
from caseflow.models import ConfidentialNote


def _key() -> bytes:
    return str(current_app.config["AUDIT_KEY"]).encode()


def split(schema: Schema, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (data for the workflow, confidential values) for a validated form."""
    secret = {name: str(data[name]) for name, f in schema.fields.items()
              if f.metadata.get("confidential") and data.get(name) not in (None, "")}
    public = {k: v for k, v in data.items() if k not in secret}
    for name, f in schema.fields.items():
        if f.metadata.get("confidential"):
            public.pop(name, None)
    return public, secret


def store(secret: dict[str, str], *, case_id: int | None, task_id: int, owner_role: str,
          user_id: int | None) -> dict[str, int]:
    """Store confidential values; return field → note id (the reference the workflow keeps)."""
    refs = {}
    for name, text in secret.items():
        note = ConfidentialNote(case_id=case_id, task_id=task_id, field=name,
                                owner_role=owner_role, text=text, created_at=clock.now(),
                                created_by=user_id)
        db.session.add(note)
        db.session.flush()
        refs[name] = note.id
    return refs


def audit_detail(schema: Schema, data: dict[str, Any], secret: dict[str, str]
                 ) -> dict[str, Any]:
    """Return form data as the audit trail may hold it (masked, digested, never clear)."""
    key = _key()
    out = dict(data)
    for name, text in secret.items():
        out[name] = {"written": True, "digest": audit.keyed_digest(text, key)}
    for name, f in schema.fields.items():
        kind = f.metadata.get("sensitive")
        if kind and out.get(name):
            value = str(out[name])
            out[name] = {"masked": masking.mask(kind, value),
                         "digest": audit.keyed_digest(value, key)}
    return out
