"""Fire due timers: escalations, waits between visits, retries."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import Case, TimerRow, WorkflowInstance
from caseflow.services import cases, runner

log = logging.getLogger(__name__)


def due_instances(now: datetime, limit: int = 500) -> list[int]:
    """Return ids of instances with at least one timer due at `now`."""
    rows = db.session.execute(
        select(TimerRow.instance_id).where(TimerRow.state == "waiting", TimerRow.due_at <= now)
        .group_by(TimerRow.instance_id).order_by(TimerRow.instance_id).limit(limit)
    ).scalars().all()
    return list(rows)


def fire_instance(instance_id: int, now: datetime) -> int:
    """Fire the due timers of one instance in one transaction; return how many fired."""
    instance = db.session.get(WorkflowInstance, instance_id)
    if instance is None or instance.status != "running":
        return 0
    case = db.session.get(Case, instance.case_id) if instance.case_id else None
    with clock.pinned(now):
        outcome = runner.act(instance, lambda run: run.fire_timers(), audit.SYSTEM, case=case)
        fired = sum(1 for e in outcome.events if e.type == "timer_fired")
        if case is not None:
            cases.mirror(case, outcome, audit.SYSTEM)
        db.session.commit()
    return fired


def fire_due(now: datetime | None = None) -> int:
    """Fire every timer due at `now` (default: the clock's now); return how many fired."""
    now = now or clock.now()
    total = 0
    for instance_id in due_instances(now):
        try:
            total += fire_instance(instance_id, now)
        except StaleDataError:
            db.session.rollback()
            log.info("instance %s changed while its timers fired; it is retried next round",
                     instance_id)
    return total
