"""Open demo cases at different steps (filled in when the fraud_case process is deployed)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from caseflow.db import db
from caseflow.models import ProcessVersion


def open_all() -> Iterator[str]:
    """Open the demo's spread of cases."""
    if db.session.scalar(select(ProcessVersion.id).where(
            ProcessVersion.process_id == "fraud_case")) is None:
        yield "no fraud_case process deployed: the demo has no cases yet"
        return
