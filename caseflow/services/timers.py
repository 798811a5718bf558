"""Fire due timers (escalations, waits between visits, retries): the worker's one job.

Each round claims due timer rows with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, so
several workers share the work; SQLite has a single writer), then fires each instance's
timers in its own transaction guarded by the instance's version. A worker that dies
leaves its lease to expire; another worker then takes the timer. A timer fires exactly
once because firing is part of the instance's versioned state change.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import Case, TimerRow, WorkflowInstance
from caseflow.services import cases, runner

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def claim_due(now: datetime, limit: int = 200, lease: timedelta = LEASE) -> list[int]:
    """Lease up to `limit` due timers; return the ids of their instances (committed)."""
    t = TimerRow.__table__
    due = (select(t.c.id).where(t.c.state == "waiting", t.c.due_at <= now,
                                or_(t.c.lease_until.is_(None), t.c.lease_until < now))
           .order_by(t.c.due_at).limit(limit))
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = db.session.connection().execute(
        update(t).where(t.c.id.in_(due.scalar_subquery()))
        .values(lease_until=now + lease).returning(t.c.instance_id)).scalars().all()
    db.session.commit()
    return sorted(set(rows))


def _release(instance_id: int) -> None:
    t = TimerRow.__table__
    db.session.connection().execute(
        update(t).where(t.c.instance_id == instance_id, t.c.state == "waiting")
        .values(lease_until=None))
    db.session.commit()


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
    for instance_id in claim_due(now):
        try:
            total += fire_instance(instance_id, now)
        except StaleDataError:
            # Someone completed a task of this instance meanwhile; fire on the next round.
            db.session.rollback()
            log.info("instance %s changed while its timers fired; retrying", instance_id)
            _release(instance_id)
    return total


def run_worker(interval: float, once: bool = False,
               sleep: Callable[[float], None] = time.sleep) -> int:
    """Poll for due timers until stopped; back off while the database is unreachable."""
    fired, backoff = 0, interval
    while True:
        try:
            fired += fire_due(clock.now())
            backoff = interval
        except OperationalError as exc:
            db.session.rollback()
            backoff = min(backoff * 2, 60.0)
            log.warning("database unavailable (%s); retrying in %.0f s", exc.orig, backoff)
            if once:
                raise
        if once:
            return fired
        sleep(backoff)
