"""Turn notification targets (roles, relative to a case) into notification rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from caseflow import settings
from caseflow.db import db
from caseflow.models import Case, Notification, User, UserRole

TARGET_ROLES = ("counselor", "college_officer", "psych_center", "security_office",
                "student_affairs", "leader", "lead_office")


def resolve_role(role: str) -> str:
    """Resolve the pseudo-role lead_office to the role the school setting names."""
    return settings.lead_office_role() if role == "lead_office" else role


def recipients(target: str, case: Case | None) -> list[tuple[int, str]]:
    """Return (user id, role) for everyone a target names, scoped to the case."""
    role = resolve_role(target)
    if role == "counselor" and case is not None:
        return [(case.counselor_id, role)] if case.counselor_id else []
    query = (select(User.id).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == role, User.active.is_(True)))
    if role == "college_officer" and case is not None:
        query = query.where(User.college_id == case.college_id)
    return [(uid, role) for uid in db.session.scalars(query.order_by(User.id)).all()]


def notify(targets: tuple[str, ...] | list[str], *, kind: str, case: Case | None,
           step: str | None, due_at: datetime | None, task_id: int | None = None,
           text: str) -> list[Notification]:
    """Write one notification per person named by `targets` (each person once)."""
    seen: set[int] = set()
    rows = []
    for target in targets:
        for user_id, role in recipients(target, case):
            if user_id in seen:
                continue
            seen.add(user_id)
            row = Notification(user_id=user_id, role=role, case_id=case.id if case else None,
                               task_id=task_id, kind=kind, step=step, due_at=due_at, text=text)
            db.session.add(row)
            rows.append(row)
    return rows
