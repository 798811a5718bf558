"""Read school settings: the stored value, else the default."""

from __future__ import annotations

import json
from typing import Any

from caseflow.db import db
from caseflow.engine import default_settings
from caseflow.models import Setting


def get(key: str) -> Any:
    """Return a setting's value (keys like 'lead_office' or 'due.triage_review')."""
    row = db.session.get(Setting, key)
    if row is not None:
        return json.loads(row.value)
    return default_settings(key)


def lead_office_role() -> str:
    """Return the role that holds the lead office (牵头部门)."""
    return str(get("lead_office"))
