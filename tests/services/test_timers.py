"""The timer worker: leases, exactly-once firing, retry after a lost race, backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import InternalError, OperationalError, ProgrammingError

from caseflow import audit, clock, dbcheck
from caseflow.db import db
from caseflow.models import AuditEvent, TimerRow
from caseflow.services import runner, setup, timers
from tests import factories
from tests.conftest import DATA


@pytest.fixture
def instance(app, review_process):
    factories.org()
    setup.deploy_sources({"review_test.bpmn": (DATA / "review_test.bpmn").read_bytes()}, "test")
    outcome = runner.start_instance("review_test", {"level": "red"}, audit.SYSTEM)
    db.session.commit()
    return outcome.instance


def _fired() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id))
                             .where(AuditEvent.event_type == "timer_fired"))


def test_a_leased_timer_is_not_taken_by_a_second_worker(instance, travel):
    travel.by(hours=3)
    now = clock.now()
    assert timers.claim_due(now) == [instance.id]
    assert timers.claim_due(now) == []  # another worker finds nothing to take
    # the first worker died before firing: once its lease runs out, the timer is taken again
    later = now + timers.LEASE + timedelta(seconds=1)
    assert timers.claim_due(later) == [instance.id]
    assert timers.fire_instance(instance.id, later) == 1
    assert _fired() == 1
    assert db.session.scalar(select(TimerRow.state)) == "fired"


def test_fire_due_fires_once_and_only_when_due(instance, travel):
    assert timers.fire_due() == 0
    travel.by(hours=1, minutes=59)
    assert timers.fire_due() == 0
    travel.by(minutes=2)
    assert timers.fire_due() == 1
    assert timers.fire_due() == 0
    travel.by(days=30)
    assert timers.fire_due() == 0
    assert _fired() == 1


def test_worker_backs_off_while_the_database_is_down(instance, monkeypatch, caplog):
    calls, sleeps = [], []

    def failing(now=None, stop=None, stranded=None, alive=None):
        calls.append(now)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        if len(calls) == 2:
            raise ProgrammingError("SELECT", {}, Exception('relation "timer" does not exist'))
        raise KeyboardInterrupt

    monkeypatch.setattr(timers, "fire_due", failing)
    with pytest.raises(KeyboardInterrupt):
        timers.run_worker(2.0, sleep=sleeps.append)
    assert sleeps == [4.0, 8.0]  # growing delays, no crash
    assert [r.getMessage() for r in caplog.records if r.name == timers.__name__] == [
        "database unavailable (server closed the connection); retrying in 4 s",
        'database refused (relation "timer" does not exist); retrying in 8 s']


def test_worker_once_raises_without_promising_a_retry(instance, monkeypatch, caplog):
    def failing(now=None, stop=None, stranded=None, alive=None):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(timers, "fire_due", failing)
    with pytest.raises(OperationalError):
        timers.run_worker(2.0, once=True)
    assert not [r for r in caplog.records if r.name == timers.__name__]  # the command says it


def test_a_database_that_takes_no_writes_is_named_with_what_to_do():
    class ReadOnly(Exception):
        sqlstate = "25006"

    refused = InternalError("UPDATE timer", {}, ReadOnly("cannot execute UPDATE in a "
                                                         "read-only transaction"))
    assert dbcheck.trouble(refused) == (
        "refused (cannot execute UPDATE in a read-only transaction); it takes no writes (a "
        "standby server, or default_transaction_read_only): point CASEFLOW_DATABASE_URL at the "
        "primary")
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert dbcheck.trouble(lost) == "unavailable (server closed the connection)"


def test_a_failing_discovery_job_does_not_stop_the_timers(instance, travel, monkeypatch,
                                                          caplog):
    def broken() -> None:
        raise RuntimeError("a bug in the discovery job")

    monkeypatch.setattr(timers, "_discovery_job", broken)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            travel.by(hours=3)  # the escalation falls due before the next round
        else:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        timers.run_worker(2.0, sleep=sleep)
    assert _fired() == 1  # the round after the failure still fired the timer
    assert caplog.text.count("the discovery job failed") == 2


def test_worker_once_reports_what_it_fired(instance, travel):
    travel.by(hours=3)
    assert timers.run_worker(2.0, once=True) == 1
