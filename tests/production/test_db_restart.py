"""PostgreSQL restarts under a running app and worker (maintenance, a crash, a failover):
while it is down people get the "try again" page and the worker backs off; once it is back
both carry on by themselves, on the same pooled engine, with nothing lost or doubled.

These tests start a PostgreSQL cluster of their own, since they stop and start it."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import AuditEvent, TaskRow, TimerRow
from caseflow.services import timers
from tests.conftest import login
from tests.production.cluster import app_on, own_server
from tests.production.support import (
    events,
    saved_nothing_then_goes_through_once,
    start_review,
    version,
    worker_through_outage,
)
from tests.production.test_db_errors import _assert_try_again, _form
from tests.production.test_serve import _free_port, _get
from tests.production.test_worker import CASEFLOW, _env, _overdue_victims

pytestmark = pytest.mark.database("postgresql")


server = pytest.fixture(name="server")(own_server)
app = pytest.fixture(name="app")(app_on)  # overrides the shared test database


def test_the_app_gives_try_again_while_the_server_is_down_and_carries_on_after(
        app, client, people, server):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    assert client.get("/").status_code == 200  # the pool now holds live connections
    form = _form(client, task_id, needs_approval="on")
    db.session.close()  # the test's own session gives its connection back to the pool
    server.stop()
    _assert_try_again(client.get("/"))
    _assert_try_again(client.post(f"/tasks/{task_id}", data=form))
    server.start()
    db.session.rollback()
    assert version(instance_id) == 1  # the refused submission saved nothing
    assert client.get("/").status_code == 200  # same engine: its dead connections replaced
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    assert client.post(f"/tasks/{task_id}", data=form).status_code != 500  # no double
    db.session.expire_all()
    assert db.session.get(TaskRow, task_id).state == "completed"
    assert version(instance_id) == 2
    assert events("task_completed") == 1
    assert audit.verify(db.session).ok


def test_the_worker_backs_off_while_the_server_is_down_and_fires_once_it_is_back(
        app, people, server):
    ids = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(3)]
    clock.advance(timedelta(hours=3))  # the review timers are due
    pauses = worker_through_outage(server.stop, server.start)
    assert pauses[:2] == [2.0, 4.0]  # backed off while down, then a normal round
    assert pauses[2] <= 1.0
    db.session.rollback()
    assert events("timer_fired") == 3 and all(version(i) == 2 for i in ids)
    assert db.session.scalar(select(func.count(TimerRow.id))
                             .where(TimerRow.state == "fired")) == 3
    assert db.session.scalar(select(func.count(AuditEvent.id))
                             .where(AuditEvent.event_type == "timer_fired")) == 3
    assert audit.verify(db.session).ok


def test_a_completion_cut_off_by_the_server_going_down_saves_nothing_and_goes_through_after(
        app, client, people, server, monkeypatch):
    from caseflow.services import runner

    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id, needs_approval="on")
    before = db.session.scalar(select(func.count(AuditEvent.id)))
    db.session.close()
    real = runner._record_events

    def record_then_lose_the_server(*args, **kwargs):
        real(*args, **kwargs)
        db.session.flush()  # every row of the step is written, not yet committed...
        server.stop()  # ...when the server goes away

    monkeypatch.setattr(runner, "_record_events", record_then_lose_the_server)
    _assert_try_again(client.post(f"/tasks/{task_id}", data=form))
    monkeypatch.setattr(runner, "_record_events", real)
    server.start()
    saved_nothing_then_goes_through_once(client, instance_id, task_id, form, before)


def test_leases_a_worker_held_when_the_server_went_down_are_given_back_when_it_returns(
        app, people, server, monkeypatch):
    ids = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(3)]
    clock.advance(timedelta(hours=3))
    db.session.close()
    real, lost = timers.fire_instance, []

    def lose_the_server_first(instance_id, now):
        if not lost:
            lost.append(instance_id)
            server.stop()
        return real(instance_id, now)

    monkeypatch.setattr(timers, "fire_instance", lose_the_server_first)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:  # down for two rounds: the give-back itself waits too
            server.start()
        elif len(pauses) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        timers.run_worker(1.0, sleep=sleep)
    assert pauses[:2] == [2.0, 4.0]  # the round broke off, and the server was still down
    db.session.rollback()
    # the next round, well inside the 60 s lease, fired all three: no timer waited for it
    assert events("timer_fired") == 3 and all(version(i) == 2 for i in ids)
    assert db.session.scalar(select(func.count(TimerRow.id)).where(
        TimerRow.state == "waiting", TimerRow.lease_until.is_not(None))) == 0
    assert audit.verify(db.session).ok


def _wait_for(check, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_gunicorn_and_the_worker_command_ride_out_a_server_restart(
        app, people, server, tmp_path):
    port = _free_port()
    ready = f"http://127.0.0.1:{port}/readyz"
    env = _env(tmp_path)
    web = subprocess.Popen([CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = (tmp_path / "worker.log").open("w+")
    worker = subprocess.Popen([CASEFLOW, "worker", "--interval", "1"], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _get(ready, time.monotonic() + 60) == 200, "the app")
        db.session.rollback()  # the test's own session holds no connection across the stop
        server.stop()
        assert all(_status(ready) == 503 for _ in range(6))  # each gunicorn worker says so
        _wait_for(lambda: "database unavailable" in Path(log.name).read_text(), "the worker")
        server.start()
        assert all(_status(ready) == 200 for _ in range(10))
        _overdue_victims(people, 1)  # a victim case whose 30-minute escalation is due

        def fired() -> bool:
            db.session.rollback()
            return events("timer_fired") == 1
        _wait_for(fired, "the escalation to fire")
        assert worker.poll() is None and web.poll() is None  # neither had to be restarted
    finally:
        for process in (worker, web):
            process.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=45), web.wait(timeout=45)]
    assert codes == [0, 0], Path(log.name).read_text()
