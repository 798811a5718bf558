"""Who may see and do what: role + scope (college, class) for cases and tasks.

Every route and service asks here; nothing else decides permissions. Deny by default.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from caseflow import settings
from caseflow.models import Case, TaskRow, User

CASE_READ_ALL = ("student_affairs", "leader")
CASE_ROLES = ("counselor", "college_officer", "psych_center", "security_office",
              "student_affairs", "leader")


def roles(user: User) -> set[str]:
    """Return the user's roles, with the lead office resolved."""
    held = set(user.role_names)
    if settings.lead_office_role() in held:
        held.add("lead_office")
    return held


def case_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the cases `user` may see."""
    held = roles(user)
    if held & {*CASE_READ_ALL, "lead_office"}:
        return true()
    conds: list[ColumnElement[bool]] = []
    if "college_officer" in held and user.college_id:
        conds.append(Case.college_id == user.college_id)
    if "counselor" in held:
        class_ids = list(user.class_ids)
        if class_ids:
            conds.append(Case.class_id.in_(class_ids))
        conds.append(Case.counselor_id == user.id)
    if held & {"counselor", "college_officer", "security_office"}:
        conds.append(Case.registered_by == user.id)
    if held & {"psych_center", "security_office"}:
        role_names = [r for r in ("psych_center", "security_office") if r in held]
        conds.append(Case.id.in_(select(TaskRow.case_id).where(TaskRow.role.in_(role_names))))
    return or_(*conds) if conds else false()


def task_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the open tasks `user` may work on."""
    held = roles(user)
    conds: list[ColumnElement[bool]] = [TaskRow.assignee_id == user.id]
    for role in held:
        if role == "counselor":
            class_ids = list(user.class_ids)
            if class_ids:
                conds.append((TaskRow.role == role) & TaskRow.assignee_id.is_(None)
                             & TaskRow.class_id.in_(class_ids))
        elif role == "college_officer":
            if user.college_id:
                conds.append((TaskRow.role == role) & (TaskRow.college_id == user.college_id))
        elif role in ("psych_center", "security_office", "student_affairs", "admin"):
            conds.append(TaskRow.role == role)
    return or_(*conds)


def may_work_on(user: User, task: TaskRow) -> bool:
    """Say whether `user` may claim or complete `task`."""
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    held = roles(user)
    if task.role not in held:
        return False
    if task.role == "counselor":
        return task.class_id in user.class_ids
    if task.role == "college_officer":
        return task.college_id == user.college_id
    return True


def may_register(user: User) -> bool:
    """Say whether `user` may register a case."""
    return bool(roles(user) & {"counselor", "college_officer", "security_office",
                               "student_affairs", "lead_office"})


def may_register_for(user: User, student: object) -> bool:
    """Say whether `user` may register a finding about `student`."""
    held = roles(user)
    if held & {"security_office", "student_affairs", "lead_office"}:
        return True
    klass = getattr(student, "klass", None)
    if "college_officer" in held and klass is not None and klass.college_id == user.college_id:
        return True
    return "counselor" in held and getattr(student, "class_id", None) in user.class_ids


def may_see_case(user: User, case: Case) -> bool:
    """Say whether `user` may open this case file."""
    from caseflow.db import db

    return db.session.scalar(select(Case.id).where(Case.id == case.id, case_filter(user))
                             ) is not None
