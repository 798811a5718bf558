"""Cases (the indexed mirror of case facts), findings, notifications, lookups, settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.db import db
from caseflow.models.base import MONEY, UTCDateTime, utcnow
from caseflow.models.org import Student


class Case(db.Model):
    """A flagged student's case; its columns mirror the workflow's case facts."""

    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_college_state", "college_id", "state"),
        Index("ix_case_student_state", "student_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    process_id: Mapped[str] = mapped_column(String(100))
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"))
    college_id: Mapped[int] = mapped_column(ForeignKey("college.id"))
    class_id: Mapped[int] = mapped_column(ForeignKey("klass.id"), index=True)
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[str | None] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(20), index=True)
    fraud_type: Mapped[str | None] = mapped_column(String(50))
    behaviour: Mapped[str | None] = mapped_column(String(50))
    risk_level: Mapped[str | None] = mapped_column(String(10), index=True)
    flags: Mapped[str] = mapped_column(Text, default="{}")  # JSON {flag: bool}
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    happened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    discovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    loss_cny: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    recovered_cny: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    downgraded: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str | None] = mapped_column(Text)
    student: Mapped[Student] = relationship()


class Finding(db.Model):
    """A discovery about a student: the first one opens a case, later ones are attached."""

    __tablename__ = "finding"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    data: Mapped[str] = mapped_column(Text)  # JSON of the registration form
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # the finding that opened the case (created_at == the case's registered_at); the
    # reports read only the others to find cases a later finding made count late
    opening: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Notification(db.Model):
    """A notice to one person: escalations, referrals, major-case reports."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(String(30))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    kind: Mapped[str] = mapped_column(String(50))
    step: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(500))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Lookup(db.Model):
    """An editable list item: fraud types, discovery sources, behaviours, risk signs."""

    __tablename__ = "lookup"
    __table_args__ = (UniqueConstraint("kind", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    code: Mapped[str] = mapped_column(String(50))
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Setting(db.Model):
    """A school setting's current value (JSON); the defaults live in code."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
