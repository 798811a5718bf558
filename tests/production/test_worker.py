"""The timer worker in production: several workers (threads and processes) fire each due
timer exactly once; a worker killed mid-transaction leaves nothing half-done and its lease
runs out so another worker fires the timer; a refused write is retried later."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import AuditEvent, Notification, TimerRow
from caseflow.services import cases, timers
from tests import factories
from tests.conftest import ROOT
from tests.production.support import actor, events, race, start_review, version

CASEFLOW = str(Path(sys.executable).parent / "caseflow")


def _url() -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CASEFLOW_DATABASE_URL": _url(), "CASEFLOW_AUDIT_KEY": "test-audit-key",
            "CASEFLOW_SECRET_KEY": "test-secret", "CASEFLOW_INSTANCE_PATH": str(tmp_path),
            "PYTHONPATH": str(ROOT)}


def test_three_workers_at_once_fire_every_timer_exactly_once(app, people):
    ids = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(30)]
    later = clock.now() + timedelta(hours=3)
    results = race(app, *[(None, lambda _: timers.fire_due(later)) for _ in range(3)])
    assert [r.error for r in results] == [None, None, None]
    assert sum(r.value for r in results) == 30
    assert events("timer_fired") == 30
    assert all(version(i) == 2 for i in ids)
    assert db.session.scalar(select(func.count(TimerRow.id))
                             .where(TimerRow.state == "fired")) == 30
    assert audit.verify(db.session).ok


def _overdue_victims(people, n: int) -> None:
    """Register victim cases an hour ago: their 30-minute stop-payment timers are due now."""
    clock.advance(timedelta(hours=-1))
    try:
        for i in range(n):
            student = factories.student(f"2031{i:06d}", f"学生{i}", people.class1)
            db.session.commit()
            cases.register(student.id, {
                "discovery_source": "self_report", "category": "victim",
                "fraud_type": "order_brushing", "what_happened": "刷单被骗", "loss_cny": "8000",
                "money_source": "living_expenses", "ongoing": "no",
                "happened_at": (clock.now() - timedelta(hours=3)).isoformat(),
                "last_transfer_at": (clock.now() - timedelta(hours=2)).isoformat()},
                people.counselor1, actor(people.counselor1))
    finally:
        clock.reset()


def test_worker_processes_at_once_fire_every_due_escalation_exactly_once(app, people, tmp_path):
    _overdue_victims(people, 30)
    due = db.session.scalar(select(func.count(TimerRow.id)).where(
        TimerRow.state == "waiting", TimerRow.due_at <= clock.now()))
    assert due == 30
    workers = [subprocess.Popen([CASEFLOW, "worker", "--once"], env=_env(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    fired = [int(out.split()[1]) for out, _ in outputs]  # "fired N timers"
    db.session.rollback()
    assert sum(fired) == 30
    per_timer = db.session.execute(select(AuditEvent.case_id, func.count(AuditEvent.id))
                                   .where(AuditEvent.event_type == "timer_fired")
                                   .group_by(AuditEvent.case_id)).all()
    assert len(per_timer) == 30 and {n for _, n in per_timer} == {1}
    # each worker says which timer of which case it fired: together, every case once
    logged = re.findall(r"INFO fired timer \S+ \(.*?\) of case (\d+),",
                        "".join(err for _, err in outputs))
    assert sorted(map(int, logged)) == sorted(case_id for case_id, _ in per_timer)
    assert audit.verify(db.session).ok


KILL_MIDWAY = textwrap.dedent("""
    import os, signal, sys
    from datetime import datetime
    import workflows
    from tests.conftest import _ReviewTest
    workflows.register("review_test", _ReviewTest)
    from caseflow import create_app
    from caseflow.db import db
    from caseflow.services import runner, timers

    real = runner._record_events

    def record_then_die(*args, **kwargs):
        real(*args, **kwargs)
        db.session.flush()  # state, task, timer and notification rows are all written...
        os.kill(os.getpid(), signal.SIGKILL)  # ...and the process dies before COMMIT

    runner._record_events = record_then_die
    with create_app().app_context():
        timers.fire_due(datetime.fromisoformat(sys.argv[1]))
""")


def test_a_worker_killed_mid_transaction_leaves_nothing_and_its_lease_runs_out(
        app, people, tmp_path):
    instance_id, _ = start_review(people.class1.id, people.counselor1.id)
    later = clock.now() + timedelta(hours=3)
    before = db.session.scalar(select(func.count(AuditEvent.id)))
    dead = subprocess.run([sys.executable, "-c", KILL_MIDWAY, later.isoformat()],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert dead.returncode == -9, dead.stderr
    db.session.rollback()
    timer = db.session.scalar(select(TimerRow).where(TimerRow.instance_id == instance_id))
    assert timer.state == "waiting" and timer.lease_until is not None  # leased, not fired
    assert version(instance_id) == 1
    assert db.session.scalar(select(func.count(AuditEvent.id))) == before
    assert db.session.scalar(select(func.count(Notification.id))) == 0
    assert timers.claim_due(later) == []  # the dead worker's lease still holds
    after_lease = later + timers.LEASE + timedelta(seconds=1)
    assert timers.fire_due(after_lease) == 1
    assert timers.fire_due(after_lease) == 0
    assert events("timer_fired") == 1 and version(instance_id) == 2
    assert audit.verify(db.session).ok


def test_a_refused_write_while_firing_is_retried_after_the_lease(app, people):
    from tests.production.test_db_errors import REFUSE, UNDO

    instance_id, _ = start_review(people.class1.id, people.counselor1.id)
    dialect = db.engine.dialect.name
    for statement in REFUSE[dialect]:
        db.session.execute(text(statement))
    db.session.commit()
    later = clock.now() + timedelta(hours=3)
    assert timers.fire_due(later) == 0  # logged, not raised: the worker carries on
    assert version(instance_id) == 1 and events("timer_fired") == 0
    for statement in UNDO[dialect]:
        db.session.execute(text(statement))
    db.session.commit()
    assert timers.fire_due(later + timers.LEASE + timedelta(seconds=1)) == 1
    assert events("timer_fired") == 1


def test_a_lost_connection_mid_round_gives_back_only_this_workers_unused_leases(
        app, people, monkeypatch):
    from sqlalchemy.exc import OperationalError

    mine = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(3)]
    later = clock.now() + timedelta(hours=3)
    real = timers.fire_instance

    def connection_lost_at_the_second(instance_id, now):
        if instance_id == mine[1]:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        return real(instance_id, now)

    monkeypatch.setattr(timers, "fire_instance", connection_lost_at_the_second)
    stranded: dict = {}
    with pytest.raises(OperationalError):
        timers.fire_due(later, stranded=stranded)
    assert stranded == {later + timers.LEASE: mine[1:]}  # the first one fired
    other = start_review(people.class1.id, people.counselor1.id)[0]
    assert timers.claim_due(later + timedelta(seconds=1)) == [other]  # another worker's lease
    timers._give_back(stranded)
    assert stranded == {}
    leased = dict(db.session.execute(select(TimerRow.instance_id, TimerRow.lease_until)
                                     .where(TimerRow.state == "waiting")).all())
    assert leased[mine[1]] is None and leased[mine[2]] is None  # any worker may fire them now
    assert leased[other] is not None  # not this worker's to give back
    monkeypatch.setattr(timers, "fire_instance", real)
    assert timers.fire_due(later) == 2 and events("timer_fired") == 3
