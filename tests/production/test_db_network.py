"""The network to a PostgreSQL host of its own is cut (a broken switch, a firewall rule:
packets silently lost, no reset) while the app and the worker use it. People get the
"try again" page within seconds rather than a page that hangs for minutes, the worker
backs off, the server frees the rows a cut-off transaction held while the network is
still cut, a commit whose answer was lost is not done twice, and both carry on once the
network is back. Each test builds its database host in network namespaces (netns.py)."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from caseflow import audit, clock
from caseflow.db import db
from caseflow.dbcheck import transport
from caseflow.models import AuditEvent, TaskRow, TimerRow
from caseflow.services import timers
from tests.conftest import _make_app, login
from tests.production.cluster import Server, migrated_app
from tests.production.netns import PORT, DatabaseHost
from tests.production.support import (
    events,
    saved_nothing_then_goes_through_once,
    start_review,
    version,
    worker_through_outage,
)
from tests.production.test_db_errors import _assert_try_again, _form
from tests.production.test_worker import CASEFLOW

# a regression would wait on the cut network for minutes: fail instead
pytestmark = [pytest.mark.database("postgresql"), pytest.mark.timeout(90)]

# small bounds, so each test waits seconds (caseflow's own defaults are 5 and 10)
CONNECT_SECONDS, NETWORK_SECONDS = 2, 1


@pytest.fixture
def host() -> Iterator[DatabaseHost]:
    found = DatabaseHost()
    yield found
    found.remove()


@pytest.fixture
def app(tmp_path: Path, host: DatabaseHost) -> Iterator[Flask]:
    """The app on the database host (this overrides the shared test database)."""
    with migrated_app(host.server, tmp_path, DB_CONNECT_TIMEOUT_SECONDS=CONNECT_SECONDS,
                      DB_NETWORK_TIMEOUT_SECONDS=NETWORK_SECONDS) as flask_app:
        yield flask_app


def _app_sessions(host: DatabaseHost) -> int:
    """Count the server's sessions from the app's address, looking through the socket."""
    engine = create_engine(host.socket_url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                  "WHERE client_addr = CAST(:a AS inet)"),
                             {"a": host.client}).scalar_one()
    engine.dispose()
    return found


def _open_form(client, people) -> tuple[int, int, dict[str, str]]:
    """Start a review, open its form as counselor1; the test's session lets go of its
    connection. Return (instance id, task id, the form to submit)."""
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id, needs_approval="on")
    db.session.close()
    return instance_id, task_id, form


def _wait_until_gone(host: DatabaseHost) -> None:
    """Wait (while the network is still cut) until the server has ended the app's sessions,
    rolling back what they had not committed; 5 minutes (the idle timeout) without the
    server's side of the network bound."""
    deadline = time.monotonic() + 30
    while _app_sessions(host):
        assert time.monotonic() < deadline, "the server still holds the cut-off session"
        time.sleep(0.2)


def _cut_at_commit(host: DatabaseHost, back_only: bool = False) -> None:
    """Cut the network the next time the app commits, just before COMMIT is sent."""
    def cut(conn) -> None:
        host.cut(back_only=back_only)

    event.listen(db.engine, "commit", cut, once=True)


def test_connections_are_bounded_on_both_sides_and_the_urls_own_parameters_win(app, host):
    with db.engine.connect() as conn:
        sent = conn.connection.dbapi_connection.info.get_parameters()
        server = [conn.execute(text(f"SHOW {name}")).scalar_one() for name in
                  ("tcp_user_timeout", "tcp_keepalives_idle", "tcp_keepalives_count")]
    assert (sent["connect_timeout"], sent["tcp_user_timeout"], sent["keepalives_idle"]) == (
        "2", "1000", "1")
    assert server == ["1000", "1", "3"]  # the server gives up on a silent client as soon
    chosen = create_engine(f"{host.server.url}?connect_timeout=7&tcp_user_timeout=4000")
    from caseflow.db import set_timeouts

    set_timeouts(chosen, 10, 300, connect_seconds=5, network_seconds=10)
    with chosen.connect() as conn:
        sent = conn.connection.dbapi_connection.info.get_parameters()
    chosen.dispose()
    assert (sent["connect_timeout"], sent["tcp_user_timeout"], sent["keepalives_idle"]) == (
        "7", "4000", "10")


def test_while_the_network_is_cut_people_get_try_again_in_seconds_and_carry_on_after(
        app, client, people, host):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    assert client.get("/").status_code == 200  # the pool now holds live connections
    form = _form(client, task_id, needs_approval="on")
    db.session.close()
    host.cut()
    try:
        started = time.monotonic()
        _assert_try_again(client.get("/"))
        _assert_try_again(client.post(f"/tasks/{task_id}", data=form))
        waited = time.monotonic() - started
    finally:
        host.heal()
    # each answer came once the network bound ran out (a dead pooled connection, then a
    # new one that could not be made): without the bounds each would wait minutes, and
    # gunicorn kills a request after 30 s
    assert waited < 2 * (NETWORK_SECONDS + CONNECT_SECONDS) + 10
    db.session.rollback()
    assert version(instance_id) == 1
    assert client.get("/").status_code == 200
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    db.session.expire_all()
    assert version(instance_id) == 2 and events("task_completed") == 1
    assert audit.verify(db.session).ok


def test_a_commit_cut_off_on_its_way_saves_nothing_and_the_server_frees_its_rows_at_once(
        app, client, people, host):
    instance_id, task_id, form = _open_form(client, people)
    before = db.session.scalar(select(func.count(AuditEvent.id)))
    db.session.close()  # no connection of the test's own across the cut
    _cut_at_commit(host)
    try:
        _assert_try_again(client.post(f"/tasks/{task_id}", data=form))
        # the step's rows were written and locked, and COMMIT never arrived: the server
        # notices its client is gone and rolls back while the network is still cut,
        # instead of holding the case's rows for the 5 minutes of the idle timeout
        _wait_until_gone(host)
    finally:
        host.heal()
    db.session.rollback()
    saved_nothing_then_goes_through_once(client, instance_id, task_id, form, before)


def test_a_commit_whose_answer_was_lost_is_not_done_again_when_the_person_retries(
        app, client, people, host):
    instance_id, task_id, form = _open_form(client, people)
    _cut_at_commit(host, back_only=True)  # COMMIT arrives; its answer is lost
    try:
        _assert_try_again(client.post(f"/tasks/{task_id}", data=form))
    finally:
        host.heal()
    db.session.rollback()
    assert version(instance_id) == 2  # it was saved, whole, though the person was told
    assert events("task_completed") == 1  # to try again...
    retried = client.post(f"/tasks/{task_id}", data=form, follow_redirects=True)
    assert retried.status_code == 200  # ...and trying again does not do it twice
    db.session.expire_all()
    assert version(instance_id) == 2 and events("task_completed") == 1
    assert db.session.get(TaskRow, task_id).state == "completed"
    assert audit.verify(db.session).ok


def test_the_worker_backs_off_while_the_network_is_cut_and_fires_once_it_heals(
        app, people, host):
    ids = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(3)]
    clock.advance(timedelta(hours=3))  # the review timers are due
    started = time.monotonic()
    pauses = worker_through_outage(host.cut, host.heal)
    assert time.monotonic() - started < 60  # each failed round ended within its bounds
    assert pauses[:2] == [2.0, 4.0]  # backed off while cut off, then a normal round
    db.session.rollback()
    assert events("timer_fired") == 3 and all(version(i) == 2 for i in ids)
    assert db.session.scalar(select(func.count(TimerRow.id))
                             .where(TimerRow.state == "fired")) == 3
    assert audit.verify(db.session).ok


def test_the_worker_warns_that_the_way_to_the_database_host_is_not_encrypted(
        app, host, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CASEFLOW_DATABASE_URL": host.server.url,
           "CASEFLOW_SECRET_KEY": "test-secret", "CASEFLOW_AUDIT_KEY": "test-audit-key",
           "CASEFLOW_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run([CASEFLOW, "worker", "--once"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (f"warning: the connection to the database at {host.address} ({host.address}) "
            "is not encrypted") in done.stderr


def test_a_worker_cut_off_mid_step_leaves_nothing_another_worker_waits_for(
        app, people, host, tmp_path, monkeypatch):
    from caseflow.services import runner

    ids = [start_review(people.class1.id, people.counselor1.id)[0] for _ in range(3)]
    due = clock.now() + timedelta(hours=3)
    db.session.close()
    real = runner._record_events

    def record_then_cut(*args, **kwargs):
        real(*args, **kwargs)
        db.session.flush()  # the step's rows are written and the case's rows locked...
        host.cut()  # ...when this worker's host loses the database

    monkeypatch.setattr(runner, "_record_events", record_then_cut)
    try:
        with pytest.raises(OperationalError):
            timers.fire_due(due)
        monkeypatch.setattr(runner, "_record_events", real)
        _wait_until_gone(host)  # the server ended the cut-off worker's session
        # another worker, on a host that still reaches the database, once the cut-off
        # worker's leases ran out: nothing is locked, each timer fires once
        other = _make_app(tmp_path / "other", host.socket_url, DB_LOCK_TIMEOUT_SECONDS=2)
        with other.app_context():
            assert timers.fire_due(due + timers.LEASE + timedelta(seconds=1)) == 3
            db.session.remove()
            db.engine.dispose()
    finally:
        host.heal()
    db.session.rollback()
    assert all(version(i) == 2 for i in ids) and events("timer_fired") == 3
    assert db.session.scalar(select(func.count(TimerRow.id))
                             .where(TimerRow.state == "fired")) == 3
    assert audit.verify(db.session).ok


def test_a_later_connection_to_another_server_in_clear_text_is_warned_about(
        host, tmp_path, caplog):
    local = Server()  # on this machine: the first server the URL names
    try:
        url = (f"postgresql+psycopg://postgres@/postgres?host={local.dir}"
               f"&host={host.address}:{PORT}")
        flask_app = _make_app(tmp_path, url)
        with flask_app.app_context(), caplog.at_level(logging.WARNING, "caseflow.dbcheck"):
            with db.engine.connect():
                pass  # judged at start by serve and worker: not again here
            assert caplog.messages == []
            local.stop()  # the first server goes away: libpq moves on to the next
            db.engine.dispose()
            for _ in range(2):
                with db.engine.connect() as conn:
                    assert transport(conn).address == host.address
                db.engine.dispose()
    finally:
        local.remove()
    assert caplog.messages == [
        f"warning: the connection to the database at {host.address} ({host.address}) is not "
        "encrypted: students' data crosses the network in clear text. Turn on TLS in "
        "PostgreSQL and add sslmode=verify-full&sslrootcert=/path/to/ca.pem to "
        "CASEFLOW_DATABASE_URL (a server this process had not used before)"]  # once
