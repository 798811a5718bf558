"""Fire due timers (escalations, waits between visits, retries): the worker's one job.

Each round claims due timer rows with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, so
several workers share the work; SQLite has a single writer), then fires each instance's
timers in its own transaction guarded by the instance's version. A worker that dies
leaves its lease to expire; another worker then takes the timer. A timer fires exactly
once because firing is part of the instance's versioned state change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from caseflow import audit, clock
from caseflow.db import db
from caseflow.dbcheck import trouble
from caseflow.engine import ProcessFault
from caseflow.models import Case, TimerRow, WorkflowInstance
from caseflow.services import ProcessFailed, cases, faults, idempotency, runner
from caseflow.services.beats import Beat

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
BATCH = 50
ATTEMPTS = 3


def claim_due(now: datetime, limit: int = BATCH, lease: timedelta = LEASE) -> list[int]:
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


def _release(instance_ids: list[int], until: datetime | None = None,
             ours: datetime | None = None) -> None:
    """Give up the leases on these instances' timers, so any worker may take them now; or,
    with `until`, keep them from every worker until then (a failed model). With `ours`,
    only the leases that still run until then: those this worker took."""
    t = TimerRow.__table__
    where = [t.c.instance_id.in_(instance_ids), t.c.state == "waiting"]
    if ours is not None:
        where.append(t.c.lease_until == ours)
    db.session.connection().execute(update(t).where(*where).values(lease_until=until))
    db.session.commit()


def _give_back(stranded: dict[datetime, list[int]]) -> None:
    """Release the leases a round took and could not use because the database went away,
    so their timers fire now instead of when the lease runs out; forget them once done."""
    for lease_until in list(stranded):
        _release(stranded[lease_until], ours=lease_until)
        log.info("gave back the leases on %d instances after the database returned",
                 len(stranded.pop(lease_until)))


def held(now: datetime) -> ColumnElement[bool]:
    """Select the timers held for a failed model: leased for longer than a worker's lease."""
    return TimerRow.__table__.c.lease_until > now + LEASE


def unhold(instance_id: int, now: datetime) -> int:
    """Let any worker take this instance's timers held for a failed model, in the caller's
    transaction (its model was fixed); return how many were held."""
    t = TimerRow.__table__
    return db.session.connection().execute(
        update(t).where(t.c.instance_id == instance_id, t.c.state == "waiting", held(now))
        .values(lease_until=None)).rowcount


def fire_instance(instance_id: int, now: datetime) -> int:
    """Fire the due timers of one instance in one transaction; return how many fired.

    If a person changed the instance meanwhile, fire again on the new state (a few times).
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _fire_once(instance_id, now)
        except StaleDataError:
            db.session.rollback()
            if attempt == ATTEMPTS:
                raise
            log.info("instance %s changed while its timers fired; firing again", instance_id)
    return 0  # not reached


def _fire_once(instance_id: int, now: datetime) -> int:
    instance = db.session.get(WorkflowInstance, instance_id, populate_existing=True)
    if instance is None or instance.status != "running":
        return 0
    case = db.session.get(Case, instance.case_id) if instance.case_id else None
    with clock.pinned(now):
        try:
            outcome = runner.act(instance, lambda run: run.fire_timers(), audit.SYSTEM,
                                 case=case)
        except ProcessFault as exc:
            raise faults.failed(exc, audit.SYSTEM, case_id=instance.case_id,
                                instance_id=instance_id, doing="firing timers") from exc
        fired = [(e.element_id, e.name or "-", instance.case_id or "-", instance_id,
                  e.detail.get("due") or "?") for e in outcome.events if e.type == "timer_fired"]
        if case is not None:
            cases.mirror(case, outcome, audit.SYSTEM)
        db.session.commit()
    for line in fired:
        log.info("fired timer %s (%s) of case %s, instance %s; due %s", *line)
    return len(fired)


def fire_due(now: datetime | None = None, stop: threading.Event | None = None,
             stranded: dict[datetime, list[int]] | None = None,
             alive: Callable[[int, datetime], None] | None = None) -> int:
    """Fire every timer due at `now` (default: the clock's now); return how many fired.

    Claims batches until none is left. An instance that keeps failing keeps its lease, so
    it is tried again when the lease runs out; a lost database connection stops the round,
    and the instances it had claimed but not fired go into `stranded` (lease: ids) for
    the worker to give back once the database answers again.
    When `stop` is set, the instance in hand is finished and the leases on the rest are
    given back, so another worker fires them at once instead of after the lease.
    After each batch, `alive` hears how many it fired (a long backlog is no silent worker).
    """
    now = now or clock.now()
    stop = stop or threading.Event()
    total = 0
    while not stop.is_set() and (ids := claim_due(now)):
        before = total
        for i, instance_id in enumerate(ids):
            if stop.is_set():
                _release(ids[i:])
                return total
            try:
                # the later of the round's time and the real time: a timer that falls due
                # while the round runs fires too, and its fired_at says when it really fired
                total += _fire_guarded(instance_id, max(now, clock.now()))
            except OperationalError:
                if stranded is not None:
                    stranded.setdefault(now + LEASE, []).extend(ids[i:])
                raise
        if alive is not None:
            alive(total - before, clock.now())
    return total


def _fire_guarded(instance_id: int, now: datetime) -> int:
    try:
        return fire_instance(instance_id, now)
    except StaleDataError:
        log.info("instance %s kept changing while its timers fired; next round", instance_id)
        _release([instance_id])
    except ProcessFailed:  # rolled back, logged and audited; the model needs fixing
        _release([instance_id], until=now + faults.RETRY_AFTER)
    except OperationalError:
        db.session.rollback()
        raise
    except Exception:  # one broken instance must not stop the others
        db.session.rollback()
        log.exception("firing the timers of instance %s failed; retrying after the lease",
                      instance_id)
    return 0


def next_due(now: datetime) -> datetime | None:
    """Return when the next unleased timer is due (None if nothing waits)."""
    t = TimerRow.__table__
    found = db.session.connection().execute(
        select(func.min(t.c.due_at)).where(
            t.c.state == "waiting",
            or_(t.c.lease_until.is_(None), t.c.lease_until < now))).scalar()
    db.session.rollback()  # end the read transaction: do not hold a snapshot while asleep
    if found is None:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def run_worker(interval: float, once: bool = False,
               sleep: Callable[[float], Any] | None = None,
               stop: threading.Event | None = None) -> int:
    """Poll for due timers until `stop` is set; back off while the database is unreachable.

    Sleeps `interval` seconds between rounds at most, less when a timer falls due sooner;
    a stop wakes it at once, and a stop in mid-round finishes the instance in hand. After
    each round it notes that this worker lives (caseflow.services.beats).
    """
    stop = stop or threading.Event()
    sleep = sleep or stop.wait
    fired, backoff = 0, interval
    stranded: dict[datetime, list[int]] = {}
    beat = Beat(clock.now())
    while not stop.is_set():
        try:
            _give_back(stranded)
            fired += fire_due(clock.now(), stop=stop, stranded=stranded,
                              alive=beat.note)
            if stop.is_set():
                break
            _discovery_job_guarded()
            idempotency.purge()
            beat.note(0, clock.now())
            backoff, pause = interval, _pause(interval)
        except DBAPIError as exc:
            db.session.rollback()
            if once:
                raise  # the command says why, once
            backoff = pause = min(backoff * 2, 60.0)
            log.warning("database %s; retrying in %.0f s", trouble(exc), backoff)
        if once:
            break
        sleep(pause)
    return fired


def _discovery_job_guarded() -> None:
    """Run the discovery job; a failure of its own must not stop the timers firing."""
    try:
        _discovery_job()
    except DBAPIError:
        raise  # the database is gone: the worker backs off
    except Exception:
        db.session.rollback()
        log.exception("the discovery job failed; the timers go on, and it runs next round")


def _discovery_job() -> None:
    """Scope timer-opened screening tasks, open left-over cases, start a due round."""
    from caseflow.services import screening

    screening.worker_job(clock.now())


def _pause(interval: float) -> float:
    now = clock.now()
    due = next_due(now)
    if due is None:
        return interval
    return min(interval, max(0.05, (due - now).total_seconds()))
