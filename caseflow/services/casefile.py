"""Open a case file (read-audited) and gather what it shows, from rows only."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from caseflow import access, audit
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Case,
    College,
    ConfidentialNote,
    Finding,
    Klass,
    Notification,
    Student,
    TaskRow,
    User,
    WorkflowInstance,
)
from caseflow.services import NotFound

REASSIGNMENTS = ("task_reassigned", "case_reassigned")


@dataclass
class Summary:
    """What a task screen shows beside the form: the case and its student, read-only."""

    case: Case
    student: Student
    klass: Klass
    college: College
    counselor: User | None
    findings: list[tuple[Finding, dict[str, Any]]]


@dataclass
class CaseFile:
    """Everything the case file screen shows."""

    summary: Summary
    open_tasks: list[TaskRow]
    done_tasks: list[TaskRow]
    step_data: dict[int, dict[str, Any]]
    notifications: list[Notification]
    events: list[tuple[Any, Mapping[str, Any]]]  # (audit_event row, its detail)
    people: dict[int, str] = field(default_factory=dict)
    version_id: int | None = None
    notes: dict[int, dict[str, str]] = field(default_factory=dict)  # task id -> field -> text


def deny(kind: str, object_id: int, actor: Actor, case_id: int | None = None) -> None:
    """Record a refused look at an object outside the user's scope (then answer 404)."""
    access.refuse(kind, object_id, actor, case_id)


def open_case(case_id: int, user: User, actor: Actor, via: str = "case_file",
              task_id: int | None = None) -> Case:
    """Load a case the user may see and record that they opened it; else NotFound."""
    case = db.session.get(Case, case_id)
    if case is None or not access.may_see_case(user, case):
        deny("case", case_id, actor, case.id if case else None)
        raise NotFound(f"no case {case_id}")
    detail: dict[str, Any] = {"via": via, "number": case.number}
    audit.record("case_viewed", actor, case_id=case.id, task_id=task_id, detail=detail)
    db.session.commit()
    return case


def task_viewed(row: TaskRow, actor: Actor) -> None:
    """Record that someone opened a task screen (it shows the case summary)."""
    audit.record("case_viewed", actor, case_id=row.case_id, task_id=row.id,
                 detail={"via": "task", "step": row.task_spec})
    db.session.commit()


def summary(case: Case) -> Summary:
    """Return the case with its student, class, college, counselor and findings."""
    student, klass, college = db.session.execute(
        select(Student, Klass, College).join(Klass, Klass.id == Student.class_id)
        .join(College, College.id == case.college_id)
        .where(Student.id == case.student_id)).one()
    counselor = db.session.get(User, case.counselor_id) if case.counselor_id else None
    findings = db.session.scalars(select(Finding).where(Finding.case_id == case.id)
                                  .order_by(Finding.id)).all()
    return Summary(case, student, klass, college, counselor,
                   [(f, _json(f.data)) for f in findings])


class LazyDetail(Mapping[str, Any]):
    """An audit event's detail, decoded from JSON only when something reads it."""

    __slots__ = ("_text", "_value")

    def __init__(self, text: str | None) -> None:
        self._text, self._value = text, None

    def decoded(self) -> dict[str, Any]:
        """Return the detail as a plain dict (decoding it the first time)."""
        if self._value is None:
            self._value = _json(self._text)
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self.decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.decoded())

    def __len__(self) -> int:
        return len(self.decoded())


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def gather(case: Case, user: User | None = None) -> CaseFile:
    """Return the case file: steps, step data, notifications and the whole history.

    With `user`, it also holds the confidential notes of the case that user's roles own.
    """
    tasks = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id)
                               .order_by(TaskRow.created_at, TaskRow.id)).all()
    # Plain rows, not ORM objects: a long history has hundreds of events.
    rows = db.session.execute(select(AuditEvent.__table__).where(AuditEvent.case_id == case.id)
                              .order_by(AuditEvent.seq)).all()
    events = [(ev, LazyDetail(ev.detail)) for ev in rows]
    step_data = {ev.task_id: detail.get("data") or {} for ev, detail in events
                 if ev.event_type == "task_completed" and ev.task_id}
    notices = db.session.scalars(select(Notification).where(Notification.case_id == case.id)
                               .order_by(Notification.created_at, Notification.id)).all()
    version = db.session.scalar(select(WorkflowInstance.process_version_id)
                                .where(WorkflowInstance.case_id == case.id)
                                .order_by(WorkflowInstance.id).limit(1))
    done = [t for t in tasks if t.state != "ready"]
    file = CaseFile(summary(case), [t for t in tasks if t.state == "ready"], done, step_data,
                    list(notices), events, version_id=version)
    file.people = _people(file)
    if user is not None and access.sees_confidential(user):
        file.notes = confidential_notes(case.id, user)
    return file


def confidential_notes(case_id: int, user: User) -> dict[int, dict[str, str]]:
    """Return the confidential notes of a case owned by the user's roles (task → field → text)."""
    out: dict[int, dict[str, str]] = {}
    rows = db.session.scalars(select(ConfidentialNote).where(
        ConfidentialNote.case_id == case_id,
        ConfidentialNote.owner_role.in_(sorted(access.roles(user)))))
    for note in rows:
        out.setdefault(note.task_id, {})[note.field] = note.text
    return out


def _people(file: CaseFile) -> dict[int, str]:
    """Return display names of everyone the file mentions (one query)."""
    ids: set[int] = set()
    for t in [*file.open_tasks, *file.done_tasks]:
        ids.update(i for i in (t.assignee_id, t.completed_by) if i)
    ids.update(n.user_id for n in file.notifications)
    for data in file.step_data.values():
        ids.update(v for k, v in data.items()
                   if k.endswith("counselor_id") and isinstance(v, int))
    for ev, detail in file.events:
        if ev.actor_id:
            ids.add(ev.actor_id)
        if ev.event_type not in REASSIGNMENTS:
            continue
        for key in ("from", "to"):
            if isinstance(detail.get(key), int):
                ids.add(detail[key])
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}
