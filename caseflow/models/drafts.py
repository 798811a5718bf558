"""Drafts of task forms: what a person typed and saved before completing a task."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.db import db
from caseflow.models.base import UTCDateTime, utcnow
from caseflow.models.cases import Case
from caseflow.models.engine import TaskRow


class TaskDraft(db.Model):
    """One person's saved, not yet submitted input for one task (JSON of the typed values)."""

    __tablename__ = "task_draft"
    __table_args__ = (UniqueConstraint("task_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    data: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Indexes the web screens need (migration 0003), declared here so the metadata matches
# the schema without touching the models of other areas.
Index("ix_task_role_class_open", TaskRow.role, TaskRow.state, TaskRow.class_id, TaskRow.due_at)
Index("ix_task_case_state", TaskRow.case_id, TaskRow.state)
# A college's case list, newest first.
Index("ix_case_college_registered", Case.college_id, Case.registered_at)
# Whoever registered a case keeps seeing it (access.case_filter).
Index("ix_case_registered_by", Case.registered_by)
