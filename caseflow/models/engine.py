"""Deployed process versions, workflow instances, and the task and timer rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.db import db
from caseflow.models.base import StateText, UTCDateTime, utcnow


class ProcessVersion(db.Model):
    """One deployed version of a process: its BPMN and DMN sources, stored once."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("process_id", "source_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    source_hash: Mapped[str] = mapped_column(String(64))
    sources: Mapped[str] = mapped_column(Text)  # JSON {file name: text}
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(100))


class ProcessCurrent(db.Model):
    """Which deployed version of a process new instances start on.

    Usually the newest; after `caseflow deploy` of files an older version already holds (a
    broken model rolled back), that older version again.
    """

    __tablename__ = "process_current"
    process_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkflowInstance(db.Model):
    """One running (or ended) process instance; its state is stored without the spec."""

    __tablename__ = "workflow_instance"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    # running / completed / cancelled
    status: Mapped[str] = mapped_column(String(20), default="running")
    state: Mapped[str] = mapped_column(StateText)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    process_version: Mapped[ProcessVersion] = relationship()

    __mapper_args__ = {"version_id_col": version}


class TaskRow(db.Model):
    """A human task: written when it becomes READY, kept when completed or cancelled."""

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        Index("ix_task_assignee_open", "assignee_id", "state", "due_at"),
        Index("ix_task_role_open", "role", "state", "college_id", "due_at"),
        Index("ix_task_state_due", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    process_id: Mapped[str] = mapped_column(String(100))
    task_spec: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(30))
    college_id: Mapped[int | None] = mapped_column(ForeignKey("college.id"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("klass.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    state: Mapped[str] = mapped_column(String(20), default="ready")  # ready/completed/cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_source: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TimerRow(db.Model):
    """A timer event waiting in an instance, so the worker finds due work without loading."""

    __tablename__ = "timer"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        Index("ix_timer_state_due", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting/fired/cancelled
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerBeat(db.Model):
    """A timer worker's last sign of life, so the health check sees when none is running."""

    __tablename__ = "worker_beat"
    worker: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired: Mapped[int] = mapped_column(default=0)  # timers it fired since it started
    # the database server's clock less the worker's (PostgreSQL only: on SQLite, one clock)
    clock_skew_ms: Mapped[int | None] = mapped_column()
