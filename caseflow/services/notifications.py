"""A person's notifications: list them, mark them read (audited, one commit each)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from caseflow import access, audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import Case, Notification, TaskRow, User
from caseflow.services import NotFound


def list_for(user: User, unread_only: bool, page: int, size: int
             ) -> tuple[list[tuple[Notification, str | None]], int]:
    """Return one page of the user's notifications (newest first) with case numbers."""
    conds = [Notification.user_id == user.id]
    if unread_only:
        conds.append(Notification.read_at.is_(None))
    rows = db.session.execute(
        select(Notification, Case.number).join(Case, Case.id == Notification.case_id,
                                               isouter=True)
        .where(*conds).order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(size).offset((max(page, 1) - 1) * size)).all()
    total = db.session.scalar(select(func.count(Notification.id)).where(*conds)) or 0
    return [(n, number) for n, number in rows], total


def workable(user: User, task_ids: list[int]) -> set[int]:
    """Return which of these tasks are open and the user may work on (to link to them)."""
    if not task_ids:
        return set()
    rows = db.session.scalars(select(TaskRow).where(TaskRow.id.in_(task_ids),
                                                    TaskRow.state == "ready"))
    return {row.id for row in rows if access.may_work_on(user, row)}


def mark_read(notification_id: int, user: User, actor: Actor) -> Notification:
    """Mark one of the user's notifications read."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"no notification {notification_id}")
    if row.read_at is None:
        row.read_at = clock.now()
        audit.record("notification_read", actor, case_id=row.case_id, task_id=row.task_id,
                     detail={"notification": row.id, "kind": row.kind})
        db.session.commit()
    return row


def mark_all_read(user: User, actor: Actor) -> int:
    """Mark every unread notification of the user read; return how many."""
    result = db.session.execute(
        update(Notification).where(Notification.user_id == user.id,
                                   Notification.read_at.is_(None))
        .values(read_at=clock.now()))
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        audit.record("notification_read", actor, detail={"all": True, "count": count})
    db.session.commit()
    return count
