"""What happens when a deployed process fails at one of its elements.

The engine raises ProcessFault when a model's script, condition or decision raises or runs
too long (caseflow.engine.scripting.TIME_LIMIT). Nothing of the step may stay: `failed`
rolls the unit of work back, logs the fault, and records it in the audit trail in a commit
of its own, so the case history and the administrator see that a step could not be taken.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from caseflow import audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import ProcessFault
from caseflow.models import AuditEvent, Case, TimerRow
from caseflow.services import ProcessFailed

log = logging.getLogger(__name__)
# a step whose model failed is tried again by the worker this much later, not every round
RETRY_AFTER = timedelta(hours=1)


def failed(fault: ProcessFault, actor: Actor, *, case_id: int | None = None,
           task_id: int | None = None, instance_id: int | None = None,
           doing: str = "") -> ProcessFailed:
    """Roll the step back, log and audit the fault; return the error to raise."""
    db.session.rollback()
    # the log gets ids and the model's own text only: the error's message may quote data
    log.error("process failed at %s (%s) while %s (case %s, task %s, instance %s): %s in %s",
              fault.element_name or "-", fault.element_id, doing or "-", case_id or "-",
              task_id or "-", instance_id or "-", fault.error_type, fault.where or "-")
    audit.record("process_failed", actor, case_id=case_id, task_id=task_id, result="error",
                 detail={"element": fault.element_id, "name": fault.element_name,
                         "error": fault.error_type, "where": fault.where,
                         "reason": fault.reason, "doing": doing, "instance": instance_id})
    db.session.commit()
    return ProcessFailed(fault)


def failed_lately(task_id: int | None, now: datetime) -> bool:
    """Say whether a failure was recorded for this task within RETRY_AFTER."""
    return db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.event_type == "process_failed", AuditEvent.task_id == task_id,
        AuditEvent.at > now - RETRY_AFTER).limit(1)) is not None


@dataclass(frozen=True)
class Failure:
    """One recorded failure, as the administrator sees it: the model's side only."""

    at: datetime
    element: str
    name: str
    error: str
    where: str
    doing: str
    case_number: str | None
    task_id: int | None
    instance_id: int | None


def recent(limit: int = 50, offset: int = 0) -> tuple[list[Failure], int]:
    """Return the latest recorded failures (newest first) and how many there are in all.

    Leaves out the error's own message, which may quote a case's data (SPEC: the
    administrator sees no case content); the element, the error's type and the failing
    expression or script line are the model's.
    """
    failed = AuditEvent.event_type == "process_failed"
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(failed)) or 0
    rows = db.session.execute(
        select(AuditEvent.at, AuditEvent.detail, AuditEvent.task_id, Case.number)
        .outerjoin(Case, Case.id == AuditEvent.case_id).where(failed)
        .order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)).all()
    return [_failure(at, json.loads(detail), task_id, number)
            for at, detail, task_id, number in rows], int(total)


def _failure(at: datetime, detail: dict[str, Any], task_id: int | None,
             number: str | None) -> Failure:
    return Failure(at, detail.get("element", "?"), detail.get("name", ""),
                   detail.get("error", ""), detail.get("where", ""), detail.get("doing", ""),
                   number, task_id, detail.get("instance"))


def held_timers(now: datetime | None = None) -> int:
    """Return how many due timers wait for their process model to be fixed."""
    from caseflow.services.timers import held

    now = now or clock.now()
    t = TimerRow.__table__
    return int(db.session.connection().execute(
        select(func.count(t.c.id)).where(t.c.state == "waiting", t.c.due_at <= now,
                                          held(now))).scalar() or 0)
