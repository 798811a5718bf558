"""Confidential field values (the psych centre's session notes), kept out of workflow data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.db import db
from caseflow.models.base import UTCDateTime, utcnow


class ConfidentialNote(db.Model):
    """One confidential value written in a task form; readable through access only."""

    __tablename__ = "confidential_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    field: Mapped[str] = mapped_column(String(100))
    # the role whose members may read it (the psych centre for session notes)
    owner_role: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(Integer)
