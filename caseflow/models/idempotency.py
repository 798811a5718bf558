"""One-time submission tokens: what a task form's first submission did, kept for a day."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.db import db
from caseflow.models.base import UTCDateTime, utcnow


class SubmissionToken(db.Model):
    """A form's one-time token and the outcome of the submission that used it first."""

    __tablename__ = "submission_token"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    next_task_id: Mapped[int | None] = mapped_column(Integer)  # where the first answer went
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
