"""One-time submission tokens: what a form's first submission did, kept for a day."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.db import db
from caseflow.models.base import UTCDateTime, utcnow


class SubmissionToken(db.Model):
    """A form's one-time token and the outcome of the submission that used it first.

    `form` names the form: "task" (then `task_id` and `next_task_id` say what happened), or
    a form that makes something ("warning", "registration"; then `result_id` is its id).
    """

    __tablename__ = "submission_token"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    form: Mapped[str] = mapped_column(String(20), server_default="task")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    next_task_id: Mapped[int | None] = mapped_column(Integer)  # where the first answer went
    result_id: Mapped[int | None] = mapped_column(Integer)  # what the first submission made
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ApiIdempotency(db.Model):
    """An API client's `Idempotency-Key` and the first answer given for it (kept a day).

    `status` is None while the first request is still running.
    """

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(100))
    endpoint: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
