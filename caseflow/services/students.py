"""The student page (重点人员档案): everything caseflow knows of one student, read from rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from caseflow import access, audit, clock, timefmt
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import AuditEvent, Case, Klass, Notification, Student, User


@dataclass
class StudentPage:
    """What the page shows; numbers stay raw here and are masked by the template."""

    student: Student
    age: int | None
    cases: list[Case]
    warnings: list[Any] = field(default_factory=list)
    screenings: list[Any] = field(default_factory=list)
    vetoes: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    visible_case_ids: set[int] = field(default_factory=set)


def load(student_id: int, user: User, actor: Actor) -> StudentPage:
    """Load a student's page if `user` may see it (else NotFound, audited); audit the view."""
    student = db.session.scalar(
        select(Student).join(Klass, Klass.id == Student.class_id)
        .where(Student.id == student_id, access.student_page_filter(user)))
    if student is None:
        raise access.refuse("student", student_id, actor)
    cases = db.session.scalars(select(Case).where(Case.student_id == student.id)
                               .order_by(Case.registered_at.desc())).all()
    visible = set(db.session.scalars(select(Case.id).where(
        Case.student_id == student.id, access.case_filter(user))))
    page = StudentPage(student, _age(student.birth_date), list(cases),
                       warnings=_warnings(student.id), screenings=_screenings(student.id),
                       vetoes=_vetoes([c.id for c in cases]),
                       notifications=_notifications([c.id for c in cases]),
                       visible_case_ids=visible)
    audit.record("student_viewed", actor, detail={"student_id": student.id,
                                                   "cases": sorted(visible)})
    db.session.commit()
    return page


def _age(birth: date | None) -> int | None:
    if birth is None:
        return None
    today = timefmt.local(clock.now()).date()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _warnings(student_id: int) -> list[Any]:
    try:
        from caseflow.models import PoliceWarning
    except ImportError:  # the warnings process is not installed
        return []
    return list(db.session.scalars(select(PoliceWarning).where(
        PoliceWarning.student_id == student_id).order_by(PoliceWarning.warned_at.desc())))


def _screenings(student_id: int) -> list[Any]:
    try:
        from caseflow.models import ScreeningEntry
    except ImportError:  # the screening process is not installed
        return []
    return list(db.session.scalars(select(ScreeningEntry).where(
        ScreeningEntry.student_id == student_id).order_by(ScreeningEntry.id.desc())))


def _vetoes(case_ids: list[int]) -> list[dict[str, Any]]:
    """Return the discipline decisions recorded on the student's cases (level, vetoes)."""
    if not case_ids:
        return []
    rows = db.session.scalars(select(AuditEvent).where(
        AuditEvent.case_id.in_(case_ids), AuditEvent.event_type == "task_completed",
        AuditEvent.detail.contains('"step":"discipline_decision"')).order_by(AuditEvent.seq))
    out = []
    for ev in rows:
        data = json.loads(ev.detail).get("data", {})
        out.append({"case_id": ev.case_id, "at": ev.at, "level": data.get("level"),
                    "vetoes": data.get("vetoes") or [], "knowing": data.get("knowing")})
    return out


def _notifications(case_ids: list[int]) -> list[Notification]:
    if not case_ids:
        return []
    rows = db.session.scalars(select(Notification).where(Notification.case_id.in_(case_ids))
                              .order_by(Notification.created_at.desc()).limit(200))
    seen, out = set(), []
    for row in rows:  # one line per notice, not one per recipient
        key = (row.case_id, row.kind, row.step, row.created_at)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out
