"""A database server that hangs (its processes stopped, as a frozen disk or a stuck host
leaves them) while its kernel still takes connections and acknowledges data: no network
bound sees it, so `caseflow worker` ends itself after its stall limit for systemd to start
afresh, with nothing half-saved, and every timer still fires exactly once; a page waiting on
it is ended after gunicorn's --timeout (by gunicorn, or for threaded workers by their
watchdog), and the next ones get "try again" after the connect timeout.

These tests start a PostgreSQL cluster of their own, since they stop its processes."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import TimerRow
from caseflow.services import timers
from caseflow.services.watchdog import EXIT_STALLED
from tests.production.cluster import app_on, own_server
from tests.production.support import events
from tests.production.test_db_restart import _wait_for
from tests.production.test_serve import _free_port, _get
from tests.production.test_worker import CASEFLOW, _env, _overdue_victims

pytestmark = [pytest.mark.database("postgresql"), pytest.mark.timeout(180)]

VICTIMS = 40
STALL = 3


server = pytest.fixture(name="server")(own_server)
app = pytest.fixture(name="app")(app_on)  # overrides the shared test database


def _other_sessions() -> int:
    db.session.rollback()
    return db.session.scalar(text(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()"))


def _fired_rows() -> int:
    return db.session.scalar(select(func.count(TimerRow.id)).where(TimerRow.state == "fired"))


def test_a_worker_whose_database_hangs_mid_round_ends_itself_and_each_timer_fires_once(
        app, people, server, tmp_path):
    _overdue_victims(people, VICTIMS)  # each with a 30-minute escalation due now
    assert _other_sessions() == 0
    log = tmp_path / "worker.log"
    env = {**_env(tmp_path), "CASEFLOW_WORKER_STALL_SECONDS": str(STALL)}
    with log.open("w") as out:
        worker = subprocess.Popen([CASEFLOW, "worker", "--interval", "0.5"], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: "fired timer" in log.read_text(), "the worker's first timer", 60)
        server.freeze()
        hung = time.monotonic()
        code = worker.wait(timeout=30)
        waited = time.monotonic() - hung
    finally:
        server.thaw()
        worker.kill()
    output = log.read_text()
    assert code == EXIT_STALLED, output
    assert STALL <= waited < STALL + 5, output  # the limit, a check period, the exit
    # "no answer to UPDATE for 3 s", or "nothing heard from it …" when the freeze caught
    # the pool checking a connection before a step
    assert re.search(r"the database has stopped answering: (no answer to [A-Z]+|nothing "
                     r"heard from it) for [0-9]+ s", output), output
    assert "Ending this worker so that it starts afresh" in output
    _wait_for(lambda: _other_sessions() == 0, "the server to end the dead worker's session")
    by_worker = events("timer_fired")
    assert 0 < by_worker < VICTIMS, "the freeze came between rounds, not in one"
    assert _fired_rows() == by_worker  # each firing saved whole, or not at all
    # the timers it had leased wait for the lease; then another worker fires each once
    assert timers.fire_due(clock.now()) == 0
    later = clock.now() + timers.LEASE + timedelta(seconds=1)
    assert timers.fire_due(later) == VICTIMS - by_worker
    assert events("timer_fired") == _fired_rows() == VICTIMS
    assert audit.verify(db.session).ok


def test_a_worker_whose_database_hangs_while_it_starts_ends_itself_too(
        app, server, tmp_path):
    server.freeze()  # connections are still taken, then nothing answers
    try:
        env = {**_env(tmp_path), "CASEFLOW_WORKER_STALL_SECONDS": str(STALL),
               "CASEFLOW_DB_CONNECT_TIMEOUT_SECONDS": "0"}  # libpq's bound is the other one
        started = time.monotonic()
        run = subprocess.run([CASEFLOW, "worker", "--once"], env=env, capture_output=True,
                             text=True, timeout=60)
        took = time.monotonic() - started
    finally:
        server.thaw()
    assert run.returncode == EXIT_STALLED, run.stderr
    assert "the database has stopped answering: nothing heard from it for" in run.stderr
    assert took < STALL + 10  # the interpreter's start, the limit, a check period


def _answer(url: str) -> tuple[int | str, float]:
    """Return a GET's status (or, when the connection broke, the error's name) and how long
    it took."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            status: int | str = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:  # the connection closed under it: its worker was ended
        status = type(error).__name__
    return status, time.monotonic() - started


@pytest.mark.parametrize("threads", ["1", "2"])  # sync workers, and gthread ones
def test_a_page_on_a_hung_database_is_ended_after_the_timeout_and_the_next_say_try_again(
        app, server, tmp_path, threads):
    port = _free_port()
    ready = f"http://127.0.0.1:{port}/readyz"
    env = {**_env(tmp_path), "CASEFLOW_DB_CONNECT_TIMEOUT_SECONDS": "2"}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        web = subprocess.Popen([CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}", "--workers",
                                "1", "--threads", threads, "--timeout", "4"], env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        assert _get(ready, time.monotonic() + 60) == 200  # its worker holds a connection now
        db.session.rollback()
        server.freeze()
        try:
            first = _answer(ready)  # on the pooled connection: waits for an answer
            then = [_answer(ready) for _ in range(3)]  # a new worker, new connections
        finally:
            server.thaw()
        after = _answer(ready)
    finally:
        web.terminate()
        web.wait(timeout=30)
    # ended after --timeout (nginx shows its "unavailable" page): by gunicorn for a sync
    # worker, by the watchdog for a threaded one, which gunicorn would leave waiting
    assert first[0] != 200 and first[1] < 4 + 3, first
    assert all(status == 503 and took < 2 + 2 for status, took in then), then  # "try again"
    assert after[0] == 200
    if threads != "1":
        assert "the database has stopped answering a request: " in log.read_text()
