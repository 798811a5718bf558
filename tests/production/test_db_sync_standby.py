"""PostgreSQL set to wait for a synchronous standby (README: "never lost") while the standby
is gone: each writing commit would wait for ever, and its server session outlive the
request gunicorn kills. caseflow refuses the write at once instead ("try again", the worker
backs off), reads go on, the health checks say why, and all carries on once the standby is
back. Each test starts a primary and a streaming standby of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from caseflow import audit, clock, syncstandby
from caseflow.cli import main
from caseflow.db import db
from caseflow.services import timers
from tests.conftest import login
from tests.production.cluster import migrated_app
from tests.production.support import events, start_review, version
from tests.production.test_db_errors import _assert_try_again, _form
from tests.production.test_db_failover import Pair
from tests.production.test_db_restart import _wait_for

pytestmark = [pytest.mark.database("postgresql"), pytest.mark.timeout(180)]


@pytest.fixture
def pair() -> Iterator[Pair]:
    found = Pair()
    with psycopg.connect(found.primary.url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        conn.execute("SELECT pg_reload_conf()")
    yield found
    found.remove()


@pytest.fixture
def app(tmp_path: Path, pair: Pair, monkeypatch) -> Iterator[Flask]:
    """The app on the primary (this overrides the shared test database)."""
    monkeypatch.setattr(syncstandby, "EVERY", 0)  # look at the standbys before each commit
    with migrated_app(pair.primary, tmp_path) as flask_app:
        yield flask_app


def _standbys(state: str = "sync") -> int:
    db.session.rollback()
    return db.session.scalar(text("SELECT count(*) FROM pg_stat_replication "
                                  f"WHERE sync_state = '{state}'"))


def _waiting_sessions() -> int:
    """Server sessions holding a commit until a standby confirms it."""
    db.session.rollback()
    return db.session.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                  "WHERE wait_event = 'SyncRep'"))


def test_with_the_synchronous_standby_gone_writes_are_refused_at_once_and_reads_go_on(
        app, client, people, pair, tmp_path):
    _wait_for(lambda: _standbys() == 1, "the standby to be synchronous")
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    timed = start_review(people.class1.id, people.counselor1.id)[0]
    login(client, "counselor1")
    assert client.get("/readyz").get_json()["database"] == "ok"
    form = _form(client, task_id)
    pair.standby.stop()
    _wait_for(lambda: _standbys() == 0, "the standby to be gone")

    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["database"] == "writes-wait"
    assert ready.get_json()["problems"] == [
        "PostgreSQL holds each commit until a synchronous standby confirms it "
        "(synchronous_standby_names), and none is connected: caseflow saves nothing until "
        "then (people are asked to try again, timers wait); start the standby, or let the "
        "primary commit alone (ALTER SYSTEM SET synchronous_standby_names = ''; "
        "SELECT pg_reload_conf())"]
    _assert_try_again(client.post(f"/tasks/{task_id}", data=form))  # at once, not hung
    assert client.get("/").status_code == 200  # reading goes on
    later = clock.now() + timedelta(hours=3)
    with pytest.raises(OperationalError, match="nothing was saved: PostgreSQL holds each"):
        timers.fire_due(later)  # the worker backs off
    db.session.rollback()
    run = CliRunner().invoke(main, ["worker", "--once"], env={
        "CASEFLOW_DATABASE_URL": pair.primary.url, "CASEFLOW_INSTANCE_PATH": str(tmp_path)})
    assert run.exit_code == 2
    assert ("error: cannot write to the database postgresql+psycopg://postgres@/postgres"
            "?host=") in run.output  # (after the worker's own log line, when it logs here)
    assert ": nothing was saved: PostgreSQL holds each commit until a synchronous" in run.output
    assert version(instance_id) == 1 and events("task_completed") == 0
    assert _waiting_sessions() == 0  # no server session left holding a commit and its rows

    pair.standby.start()
    _wait_for(lambda: _standbys() == 1, "the standby to be back")
    assert client.get("/readyz").get_json()["database"] == "ok"
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    assert timers.fire_due(later) >= 1
    assert version(instance_id) == 2 and events("task_completed") == 1
    assert version(timed) == 2  # its timer fired once the standby confirmed again
    assert audit.verify(db.session).ok


def test_what_a_commit_waits_for_is_read_from_synchronous_standby_names():
    assert [syncstandby.needed(names) for names in (
        "", "  ", "*", "s1", "s1, s2", "FIRST 2 (s1, s2, s3)", "ANY 3 (s1, s2, s3)",
        "any 1 (s1,s2)", '2 ("s 1", s2)')] == [0, 0, 1, 1, 1, 2, 3, 1, 2]
    assert not syncstandby.Standbys(0, 0).commits_wait  # none asked for
    assert syncstandby.Standbys(2, 1).commits_wait and not syncstandby.Standbys(1, 2).commits_wait
    assert syncstandby.Standbys(2, 1).refusal().startswith(
        "nothing was saved: PostgreSQL holds each commit until 2 synchronous standbys confirm "
        "it (synchronous_standby_names), and only 1 is connected; start the standby")


def test_a_look_at_the_standbys_cut_off_is_try_again_like_any_lost_statement(
        app, client, people, monkeypatch):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id)

    def cut_off(dbapi_connection):
        raise psycopg.OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(syncstandby, "look", cut_off)  # as a server shutting down would
    _assert_try_again(client.post(f"/tasks/{task_id}", data=form))  # not a 500 page
    assert version(instance_id) == 1
    monkeypatch.undo()
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    assert version(instance_id) == 2 and events("task_completed") == 1
