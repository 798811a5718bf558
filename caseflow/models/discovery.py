"""Discovery at scale: police warnings and screening rounds (rounds, classes, entries)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.db import db
from caseflow.models.base import MONEY, UTCDateTime, utcnow
from caseflow.models.org import Klass, Student


class PoliceWarning(db.Model):
    """A police warning that a student is being defrauded now (预警), and its outcome."""

    __tablename__ = "warning"
    __table_args__ = (
        UniqueConstraint("source", "source_ref"),
        Index("ix_warning_state_warned", "state", "warned_at"),
        Index("ix_warning_college_warned", "college_id", "warned_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # screen / api / cli
    source_ref: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    id_card: Mapped[str | None] = mapped_column(String(18))
    name: Mapped[str | None] = mapped_column(String(50))
    college_hint_id: Mapped[int | None] = mapped_column(ForeignKey("college.id"))
    warned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fraud_type: Mapped[str | None] = mapped_column(String(50))
    urgency: Mapped[str] = mapped_column(String(10), default="urgent")
    note: Mapped[str | None] = mapped_column(Text)
    # unmatched / candidates / matched / reached / closed
    state: Mapped[str] = mapped_column(String(20), default="unmatched")
    match_method: Mapped[str | None] = mapped_column(String(20))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("student.id"), index=True)
    college_id: Mapped[int | None] = mapped_column(ForeignKey("college.id"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("klass.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_instance.id"),
                                                    index=True)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    matched_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reached_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reached_role: Mapped[str | None] = mapped_column(String(30))
    reached_how: Mapped[str | None] = mapped_column(String(20))
    minutes_to_reach: Mapped[int | None] = mapped_column(Integer)
    dissuaded: Mapped[bool | None] = mapped_column(Boolean)
    money_transferred: Mapped[bool | None] = mapped_column(Boolean)
    loss_cny: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    took_part: Mapped[bool | None] = mapped_column(Boolean)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    fed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    student: Mapped[Student | None] = relationship()


class WarningCandidate(db.Model):
    """A student a warning may be about (same name, and college when given)."""

    __tablename__ = "warning_candidate"
    __table_args__ = (UniqueConstraint("warning_id", "student_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warning.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"))
    reason: Mapped[str] = mapped_column(String(20))  # phone / id_card / name / name_college
    picked: Mapped[bool] = mapped_column(Boolean, default=False)
    student: Mapped[Student] = relationship()


class ScreeningRound(db.Model):
    """One screening round (涉诈隐患摸排), school-wide or for a cohort."""

    __tablename__ = "screening_round"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    cohort: Mapped[str] = mapped_column(String(20), default="all")
    college_id: Mapped[int | None] = mapped_column(ForeignKey("college.id"))
    grade: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual / cli / timer
    # a timer-started round's cycle (its due day): two workers cannot start it twice
    auto_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    classes: Mapped[int] = mapped_column(Integer, default=0)
    students: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)


class ScreeningCollege(db.Model):
    """A college's part of a round: the officer's review instance."""

    __tablename__ = "screening_college"
    __table_args__ = (UniqueConstraint("round_id", "college_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("screening_round.id"), index=True)
    college_id: Mapped[int] = mapped_column(ForeignKey("college.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_instance.id"),
                                                    index=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class ScreeningClass(db.Model):
    """A class's screening in a round: its instance, its task's state, the sheet digest."""

    __tablename__ = "screening_class"
    __table_args__ = (
        UniqueConstraint("round_id", "class_id"),
        Index("ix_screening_class_round_state", "round_id", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("screening_round.id"))
    class_id: Mapped[int] = mapped_column(ForeignKey("klass.id"), index=True)
    college_id: Mapped[int] = mapped_column(ForeignKey("college.id"), index=True)
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_instance.id"),
                                                    index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    state: Mapped[str] = mapped_column(String(20), default="open")  # open / done
    students: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[str | None] = mapped_column(String(10))  # form / xlsx / csv
    sheet_digest: Mapped[str | None] = mapped_column(String(64))
    talked: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    not_reached: Mapped[int] = mapped_column(Integer, default=0)
    klass: Mapped[Klass] = relationship()


class ScreeningEntry(db.Model):
    """One student's status in a round: coverage is counted on these rows."""

    __tablename__ = "screening_entry"
    __table_args__ = (
        UniqueConstraint("round_id", "student_id"),
        Index("ix_screening_entry_class", "screening_class_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("screening_round.id"))
    screening_class_id: Mapped[int] = mapped_column(ForeignKey("screening_class.id"))
    class_id: Mapped[int] = mapped_column(ForeignKey("klass.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # talked / flagged / not_reached
    category: Mapped[str | None] = mapped_column(String(20))
    fraud_type: Mapped[str | None] = mapped_column(String(50))
    behaviour: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(200))
    followup_on: Mapped[date | None] = mapped_column(Date)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    student: Mapped[Student] = relationship()
