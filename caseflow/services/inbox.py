"""The inbox: open task rows a person may work on, filters, counts, and reassignment.

Everything here reads task rows (with their case and student); nothing loads a workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList

from caseflow import access, audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import (
    Case,
    College,
    CounselorClass,
    Klass,
    Notification,
    PoliceWarning,
    ProcessVersion,
    ScreeningClass,
    ScreeningCollege,
    ScreeningRound,
    Student,
    TaskRow,
    User,
    UserRole,
)
from caseflow.services import NotFound, ValidationFailed, cases

SCHOOL_WIDE = ("student_affairs", "lead_office", "security_office", "psych_center", "leader")


@dataclass
class InboxFilter:
    """What the inbox shows: filters, sort order and page."""

    role: str | None = None
    risk: str | None = None
    overdue: bool = False
    process: str | None = None
    college_id: int | None = None
    class_id: int | None = None
    newest_due_first: bool = False
    page: int = 1

    @property
    def narrowed(self) -> bool:
        """Say whether any filter leaves out some of the open tasks."""
        return bool(self.role or self.risk or self.overdue or self.process or self.college_id
                    or self.class_id)


@dataclass
class InboxRow:
    """One open task as the inbox lists it."""

    task: TaskRow
    case_number: str | None
    risk: str | None
    student: str | None
    overdue: bool
    mine: bool


def open_tasks(user: User) -> ColumnElement[bool]:
    """Return access.task_filter for open tasks, with the state test inside each OR term.

    The same rows; but SQLite then finds each term's rows through its own index
    (assignee, role + class, role + college) instead of scanning every open task.
    """
    cond = access.task_filter(user)
    terms = (list(cond.clauses) if isinstance(cond, BooleanClauseList)
             and cond.operator is operators.or_ else [cond])
    return or_(*[and_(TaskRow.state == "ready", term) for term in terms])


def _conditions(user: User, f: InboxFilter, now: datetime) -> list[ColumnElement[bool]]:
    conds = [open_tasks(user)]
    if f.role:
        conds.append(TaskRow.role == f.role)
    if f.overdue:
        conds.append(TaskRow.due_at < now)
    if f.process:
        conds.append(TaskRow.process_id == f.process)
    if f.college_id:
        conds.append(TaskRow.college_id == f.college_id)
    if f.class_id:
        conds.append(TaskRow.class_id == f.class_id)
    if f.risk:
        conds.append(TaskRow.case_id.in_(select(Case.id).where(Case.risk_level == f.risk)))
    return conds


def _ordered(query: Select[Any], newest_first: bool) -> Select[Any]:
    due = TaskRow.due_at.desc() if newest_first else TaskRow.due_at
    return query.order_by(TaskRow.due_at.is_(None), due, TaskRow.id)


def inbox(user: User, f: InboxFilter, size: int) -> tuple[list[InboxRow], int]:
    """Return one page of the user's open tasks and the number of them all."""
    now = clock.now()
    conds = _conditions(user, f, now)
    page = _ordered(select(TaskRow).where(*conds), f.newest_due_first)
    tasks = db.session.scalars(page.limit(size).offset((max(f.page, 1) - 1) * size)).all()
    total = db.session.scalar(select(func.count(TaskRow.id)).where(*conds)) or 0
    return _rows(user, list(tasks), now), total


def _rows(user: User, tasks: list[TaskRow], now: datetime) -> list[InboxRow]:
    case_ids = {t.case_id for t in tasks if t.case_id}
    info: dict[int, tuple[str, str | None, str]] = {}
    if case_ids:
        for cid, number, risk, name in db.session.execute(
                select(Case.id, Case.number, Case.risk_level, Student.name)
                .join(Student, Student.id == Case.student_id).where(Case.id.in_(case_ids))):
            info[cid] = (number, risk, name)
    about = _discovery([t.instance_id for t in tasks if not t.case_id])
    out = []
    for t in tasks:
        number, risk, name = info.get(t.case_id or 0, (None, None, None))
        if not t.case_id:  # a warning's or a screening round's step: say which one
            number, name = about.get(t.instance_id, (None, None))
        out.append(InboxRow(t, number, risk, name, bool(t.due_at and t.due_at < now),
                            t.assignee_id == user.id))
    return out


def _discovery(instance_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Name the warning (and its student) or the round (and class or college) of instances."""
    if not instance_ids:
        return {}
    found: dict[int, tuple[str, str]] = {}
    queries = [
        select(PoliceWarning.instance_id, PoliceWarning.number, Student.name)
        .join(Student, Student.id == PoliceWarning.student_id)
        .where(PoliceWarning.instance_id.in_(instance_ids)),
        select(ScreeningClass.instance_id, ScreeningRound.number, Klass.name)
        .join(ScreeningRound, ScreeningRound.id == ScreeningClass.round_id)
        .join(Klass, Klass.id == ScreeningClass.class_id)
        .where(ScreeningClass.instance_id.in_(instance_ids)),
        select(ScreeningCollege.instance_id, ScreeningRound.number, College.name)
        .join(ScreeningRound, ScreeningRound.id == ScreeningCollege.round_id)
        .join(College, College.id == ScreeningCollege.college_id)
        .where(ScreeningCollege.instance_id.in_(instance_ids)),
    ]
    for query in queries:
        found.update({iid: (number, name) for iid, number, name in db.session.execute(query)})
    return found


def counts(user: User, tasks: int | None = None) -> tuple[int, int]:
    """Return (open tasks I may work on, unread notifications) for the navigation.

    `tasks` is the number of open tasks when the caller has counted them already.
    """
    unread = (select(func.count(Notification.id))
              .where(Notification.user_id == user.id, Notification.read_at.is_(None))
              .scalar_subquery())
    if tasks is not None:
        return tasks, db.session.scalar(select(unread)) or 0
    # both in one statement: this runs on every page
    task_count = select(func.count(TaskRow.id)).where(open_tasks(user)).scalar_subquery()
    found, unread_count = db.session.execute(select(task_count, unread)).one()
    return found or 0, unread_count or 0


def processes() -> list[tuple[str, str]]:
    """Return (process id, name) of every deployed process."""
    rows = db.session.execute(select(ProcessVersion.process_id, func.max(ProcessVersion.name))
                              .group_by(ProcessVersion.process_id)
                              .order_by(ProcessVersion.process_id)).all()
    return [(pid, name or pid) for pid, name in rows]


def scope_places(user: User, college_id: int | None) -> tuple[list[College], list[Klass]]:
    """Return the colleges and classes worth a filter: only where the scope has several."""
    held = access.roles(user)
    colleges: list[College] = []
    if held & set(SCHOOL_WIDE):
        colleges = list(db.session.scalars(select(College).order_by(College.code)))
    college = college_id or (user.college_id if "college_officer" in held else None)
    classes: list[Klass] = []
    if college:
        classes = list(db.session.scalars(select(Klass).where(Klass.college_id == college)
                                          .order_by(Klass.code)))
    elif "counselor" in held and len(user.class_ids) > 1:
        classes = list(db.session.scalars(select(Klass).where(Klass.id.in_(user.class_ids))
                                          .order_by(Klass.code)))
    return (colleges if len(colleges) > 1 else []), (classes if len(classes) > 1 else [])


def next_task(user: User, case_id: int | None) -> int | None:
    """Return the id of the user's next open task of a case (earliest due first)."""
    if case_id is None:
        return None
    return db.session.scalar(
        _ordered(select(TaskRow.id).where(TaskRow.case_id == case_id, open_tasks(user)),
                 False).limit(1))


def people(role: str | None, college_id: int | None) -> list[User]:
    """Return the active people holding `role` (for college roles: of that college)."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == role, User.active.is_(True)))
    if role == "counselor" and college_id:
        in_college = select(CounselorClass.user_id).join(
            Klass, Klass.id == CounselorClass.class_id).where(Klass.college_id == college_id)
        query = query.where(or_(User.college_id == college_id, User.id.in_(in_college)))
    elif role == "college_officer" and college_id:
        query = query.where(User.college_id == college_id)
    return list(db.session.scalars(query.order_by(User.display_name, User.id)).unique())


def candidates(task: TaskRow) -> list[User]:
    """Return the active people who may take `task` over (same role, same college)."""
    return people(task.role, task.college_id)


def reassignable(task_id: int, user: User) -> TaskRow:
    """Load an open task the user may reassign, or raise NotFound."""
    row = db.session.get(TaskRow, task_id)
    if row is None or row.state != "ready" or not access.may_reassign(user, row):
        raise NotFound(f"no task {task_id}")
    return row


def reassign_task(task_id: int, to_user_id: int | None, reason: str, user: User,
                  actor: Actor) -> TaskRow:
    """Hand an open task to another person of its role, with a reason (audited)."""
    row = reassignable(task_id, user)
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = ["Missing data for required field."]
    target = next((u for u in candidates(row) if u.id == to_user_id), None)
    if target is None:
        errors["to_user"] = ["Missing data for required field." if to_user_id is None
                             else "Not a valid choice."]
    if errors:
        raise ValidationFailed(errors)
    assert target is not None
    case = db.session.get(Case, row.case_id) if row.case_id else None
    if row.role == "counselor" and case is not None:
        cases.reassign(case, target.id, actor, reason=reason.strip())
    else:
        before, row.assignee_id = row.assignee_id, target.id
        audit.record("task_reassigned", actor, case_id=row.case_id, task_id=row.id,
                     detail={"step": row.task_spec, "name": row.name, "from": before,
                             "to": target.id, "reason": reason.strip()})
    db.session.commit()
    return row
