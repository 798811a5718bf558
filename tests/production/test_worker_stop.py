"""Stopping the timer worker (a deploy, systemd, Ctrl-C): it finishes the instance in hand,
gives back the leases it holds on the rest, and exits 0, so no escalation waits out a lease."""

from __future__ import annotations

import signal
import subprocess
import threading
from datetime import timedelta

from sqlalchemy import select

from caseflow import clock
from caseflow.db import db
from caseflow.models import TimerRow
from caseflow.services import timers
from tests.production.support import start_review
from tests.production.test_worker import CASEFLOW, _env


def test_a_stop_mid_round_finishes_the_instance_in_hand_and_gives_the_rest_back(
        app, people, monkeypatch):
    ids = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(3)]
    later = clock.now() + timedelta(hours=3)
    stop = threading.Event()
    real = timers._fire_guarded

    def fire_then_stop(instance_id, now):
        fired = real(instance_id, now)
        stop.set()  # the stop comes while the first instance is in hand
        return fired

    monkeypatch.setattr(timers, "_fire_guarded", fire_then_stop)
    assert timers.fire_due(later, stop=stop) == 1
    db.session.rollback()
    rows = db.session.execute(select(TimerRow.instance_id, TimerRow.state, TimerRow.lease_until)
                              .where(TimerRow.instance_id.in_(ids))
                              .order_by(TimerRow.instance_id)).all()
    assert [r.state for r in rows] == ["fired", "waiting", "waiting"]
    assert [r.lease_until for r in rows[1:]] == [None, None]  # given back, not held 60 s
    monkeypatch.undo()
    assert timers.fire_due(later) == 2  # so the next round fires them at once


def test_after_a_stop_the_worker_starts_no_new_round(app, people):
    stop = threading.Event()
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        stop.set()  # SIGTERM while it sleeps

    start_review(people.class1.id, people.counselor1.id)
    clock.advance(timedelta(hours=3))
    assert timers.run_worker(30.0, sleep=nap, stop=stop) == 1
    assert len(naps) == 1  # one round, one sleep, then out


def test_sigterm_stops_the_worker_command_cleanly(app, tmp_path):
    env = {**_env(tmp_path), "CASEFLOW_HEALTH_TIMER_GRACE_SECONDS": "30"}
    worker = subprocess.Popen([CASEFLOW, "worker", "--interval", "30"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = worker.stdout.readline()  # printed once its signal handlers are in place
        assert "caseflow worker: firing due timers" in started and "SIGTERM" in started
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)  # not the 30 s poll, nor a lease
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "stopped after firing 0 timers" in out
    # a poll as long as the health check's grace would read as a stopped worker: say so
    assert "warning: --interval 30 s is not shorter than the health check's 30 s grace" in err
