"""Issued two-weekly briefs (专项简报): the version people received, kept unchanged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.db import db
from caseflow.models.audit import AuditEvent
from caseflow.models.base import UTCDateTime, utcnow
from caseflow.models.cases import Case, Finding
from caseflow.models.engine import TaskRow


class IssuedBrief(db.Model):
    """One issued brief of a college and period: its rendered page and PDF, frozen."""

    __tablename__ = "issued_brief"
    __table_args__ = (
        UniqueConstraint("college_id", "period_key", "version"),
        Index("ix_issued_brief_college_issued", "college_id", "issued_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    college_id: Mapped[int] = mapped_column(ForeignKey("college.id"))
    period_kind: Mapped[str] = mapped_column(String(20))
    period_key: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text, default="")
    figures: Mapped[str] = mapped_column(Text)  # JSON of the key figures as issued
    html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))


# Indexes the report aggregates need (migrations 0008 and 0010), declared here so the
# metadata matches the schema without touching the models of other areas. The case and
# task ones cover every column the figures read or scope by, so each time-range branch is
# an index-only scan.
CASE_COVER = (Case.withdrawn, Case.college_id, Case.class_id, Case.student_id,
              Case.counselor_id, Case.registered_by, Case.loss_cny, Case.recovered_cny,
              Case.fraud_type, Case.behaviour, Case.state, Case.downgraded)
Index("ix_case_happened_figures", Case.happened_at, Case.registered_at, Case.category,
      *CASE_COVER)
Index("ix_case_registered_figures", Case.registered_at, Case.category, Case.happened_at,
      *CASE_COVER)
Index("ix_case_category_registered", Case.category, Case.registered_at, Case.happened_at,
      *CASE_COVER)
Index("ix_finding_created", Finding.created_at, Finding.case_id)
Index("ix_finding_later", Finding.opening, Finding.created_at, Finding.case_id)
Index("ix_task_spec_report", TaskRow.task_spec, TaskRow.created_at, TaskRow.state,
      TaskRow.completed_at, TaskRow.case_id)
Index("ix_task_spec_completed", TaskRow.task_spec, TaskRow.state, TaskRow.completed_at,
      TaskRow.case_id)
Index("ix_task_open_report", TaskRow.state, TaskRow.due_at, TaskRow.task_spec,
      TaskRow.college_id, TaskRow.class_id, TaskRow.case_id)
Index("ix_task_completed_report", TaskRow.completed_at, TaskRow.due_at, TaskRow.state,
      TaskRow.task_spec, TaskRow.college_id, TaskRow.class_id, TaskRow.case_id)
Index("ix_audit_task", AuditEvent.task_id)
Index("ix_audit_at", AuditEvent.at)
