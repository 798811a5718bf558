"""Hosts whose clocks have drifted from the database server's: timers are due by one host's
clock and fire by another's, so the health check measures this server's clock and each
timer worker's against PostgreSQL's and fails when one is off by more than 2 s. The host's
clock is moved by replacing `clock.real`, the one reading of it the measurement takes."""

from __future__ import annotations

import logging
import re
import socket
from datetime import timedelta

import pytest
from click.testing import CliRunner

from caseflow import clock
from caseflow.cli import main
from caseflow.db import db
from caseflow.models import WorkerBeat
from caseflow.services import health, timers
from caseflow.services.beats import Beat


def _host_clock_off_by(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Make this host's clock read `seconds` later (negative: earlier) than it is."""
    real = clock.real
    monkeypatch.setattr(clock, "real", lambda: real() + timedelta(seconds=seconds))


@pytest.mark.database("postgresql")
def test_a_server_in_step_with_the_database_passes_and_says_how_close(app, client):
    timers.run_worker(1.0, once=True)
    answer = client.get("/healthz").get_json()
    assert answer["status"] == "ok"
    assert abs(answer["clock"]["skew_seconds"]) < 0.5
    assert abs(answer["workers"]["clock_skew_seconds"]) < 0.5


@pytest.mark.database("postgresql")
def test_a_server_whose_clock_is_behind_fails_the_check(app, client, monkeypatch):
    timers.run_worker(1.0, once=True)
    _host_clock_off_by(monkeypatch, -90)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["clock"]["skew_seconds"] == pytest.approx(90, abs=1)
    [problem] = answer.get_json()["problems"]
    assert problem.startswith("this server's clock is 90.0 s behind the database server's "
                              "(more than 2 s): timers fire late or early by as much")
    assert "NTP" in problem
    assert client.get("/readyz").status_code == 200, "it can still serve pages"


@pytest.mark.database("postgresql")
def test_a_worker_whose_clock_is_ahead_fails_the_check_and_its_log_names_it(
        app, client, monkeypatch, caplog, travel):
    beat = Beat(clock.now(), name="host-b:4242")
    _host_clock_off_by(monkeypatch, 30)
    with caplog.at_level(logging.WARNING, logger="caseflow.services.beats"):
        beat.note(0, clock.now() + timedelta(seconds=30))  # its clock reads 30 s later
    assert db.session.get(WorkerBeat, "host-b:4242").clock_skew_ms == pytest.approx(-30000,
                                                                                    abs=500)
    assert "timer worker host-b:4242: this host's clock is 30.0 s ahead of" in caplog.text
    monkeypatch.undo()  # the app server's own clock is right
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["workers"]["running"] == 1
    assert answer.get_json()["workers"]["clock_skew_seconds"] == pytest.approx(-30, abs=0.5)
    assert answer.get_json()["problems"] == [
        "a timer worker's clock is 30.0 s ahead of the database server's (more than 2 s): "
        "timers fire late or early by as much; keep every server's clock synchronised (NTP: "
        "systemd-timesyncd or chrony) (the worker's log names its host)"]
    assert "host-b" not in answer.get_data(as_text=True)
    travel.by(seconds=61)  # the next beat is due half a minute after the last
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="caseflow.services.beats"):
        beat.note(0, clock.now())  # its clock was set right
    assert "in step with the database server's again" in caplog.text
    assert client.get("/healthz").status_code == 200


@pytest.mark.database("postgresql")
def test_a_worker_far_behind_counts_as_running_with_its_skew_not_as_gone(app, client,
                                                                        monkeypatch):
    beat = Beat(clock.now(), name="host-c:7")
    _host_clock_off_by(monkeypatch, -300)
    beat.note(0, clock.now() - timedelta(seconds=300))  # its beat looks five minutes old
    monkeypatch.undo()
    answer = client.get("/healthz").get_json()
    assert answer["workers"]["running"] == 1
    assert [p.split(":")[0] for p in answer["problems"]] == [
        "a timer worker's clock is 300.0 s behind the database server's (more than 2 s)"]


@pytest.mark.database("postgresql")
def test_the_health_command_prints_the_servers_clock_against_the_databases(app, cli_database):
    timers.run_worker(1.0, once=True)
    result = CliRunner().invoke(main, ["health"])
    assert result.exit_code == 0, result.output
    assert "; clock: +0.0" in result.output or "; clock: -0.0" in result.output
    assert re.search(r"; connections: \d+ of 197", result.output)
    assert socket.gethostname() not in result.output


@pytest.mark.database("sqlite")
def test_on_sqlite_every_process_shares_one_clock_so_none_is_measured(app, client):
    timers.run_worker(1.0, once=True)
    row = db.session.query(WorkerBeat).one()
    assert row.clock_skew_ms is None
    answer = client.get("/healthz").get_json()
    assert answer["status"] == "ok"
    assert answer["clock"] == {"skew_seconds": None}
    assert answer["workers"]["clock_skew_seconds"] is None
    assert health.check().clock_skew is None


def test_a_worker_whose_clock_is_ahead_takes_leases_early_but_no_timer_fires_twice(app, people):
    from caseflow import audit
    from tests.production.support import events, race, start_review, version

    ids = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(10)]
    due = clock.now() + timedelta(hours=3)
    claimed = timers.claim_due(due)  # worker A holds the leases for a minute by its clock
    db.session.commit()
    assert sorted(claimed) == sorted(ids)
    ahead = due + timedelta(minutes=2)  # worker B's clock: A's leases look run out
    assert timers.fire_due(ahead) == 10
    assert sum(timers.fire_instance(i, due) for i in claimed) == 0, "A finds them fired"
    more = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(10)]
    results = race(app, (None, lambda _: timers.fire_due(due)),
                   (None, lambda _: timers.fire_due(ahead)))
    assert [r.error for r in results] == [None, None]
    assert sum(r.value for r in results) == 10
    assert events("timer_fired") == 20
    assert [version(i) for i in ids + more] == [2] * 20
    assert audit.verify(db.session).ok
