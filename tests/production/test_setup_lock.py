"""One setup at a time: `caseflow init-db`, `deploy` and `demo` started together against one
database (a province's app hosts upgraded at once) take turns instead of creating the
schema or deploying the same files twice, and the later ones say they are waiting."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from caseflow import audit
from caseflow.db import db, held
from caseflow.models import AuditEvent, Lookup, ProcessVersion
from caseflow.services import setup
from tests.conftest import PG_SERVER, _pg_admin, _pg_url, _worker
from tests.production.test_worker import CASEFLOW, _env

WAITING = "waiting for it to finish"
PROCESSES = 4  # the .bpmn processes in bpmn/


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it (no schema)."""
    if not PG_SERVER:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"cf_setup_{_worker()}"
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _pg_admin(f"CREATE DATABASE {name}")
    yield _pg_url(name)
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([CASEFLOW, *command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _lines(stream) -> queue.Queue:
    """Read a pipe's lines in a thread, so a test can wait for one with a deadline."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, words: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if words in line:
            return line


def test_init_db_started_three_times_at_once_on_an_empty_database(app, tmp_path, empty_url):
    env = {**_env(tmp_path), "CASEFLOW_DATABASE_URL": empty_url}
    runs = [_start(["init-db"], env) for _ in range(3)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err[-800:] for _, err in outputs]
    assert all(out.rstrip().endswith("database ready") for out, _ in outputs)
    _one_deployed([out for out, _ in outputs])
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ProcessVersion)) == PROCESSES
        assert conn.scalar(select(func.count()).where(
            AuditEvent.event_type == "process_deployed")) == PROCESSES
        lookups = conn.execute(select(Lookup.kind, Lookup.code)).all()
        assert len(lookups) == len(set(lookups)) > 0
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) is not None
    engine.dispose()
    checked = subprocess.run([CASEFLOW, "audit", "verify"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("command", [["init-db"], ["deploy"]])
def test_a_setup_waits_for_the_one_at_work_and_says_so(app, tmp_path, command):
    with setup.exclusive(lambda: pytest.fail("nobody else holds the lock yet")):
        run = _start(command, _env(tmp_path))
        said = _wait_for(_lines(run.stderr), WAITING)
        assert "another caseflow init-db, deploy or demo is setting up this database" in said
        assert run.poll() is None, "it waits while the lock is held"
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 0
    assert "deployed fraud_case" in out


def test_a_holder_that_dies_releases_the_lock(app, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from caseflow import create_app\n"
        "from caseflow.services import setup\n"
        "with create_app().app_context(), setup.exclusive(lambda: None):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n")], env=_env(tmp_path), stdout=subprocess.PIPE, text=True)
    assert _wait_for(_lines(holder.stdout), "held")
    waited, ready, engine = threading.Event(), threading.Event(), db.engine

    def take() -> None:
        with held(engine, "setup", waited.set, poll=0.05):
            ready.set()

    taker = threading.Thread(target=take)
    taker.start()
    assert waited.wait(timeout=30), "it finds the lock held"
    assert not ready.is_set()
    holder.kill()
    holder.wait(timeout=30)
    taker.join(timeout=30)
    assert ready.is_set(), "the lock of a killed holder was released"


def _one_deployed(outputs: list[str]) -> None:
    assert sum("deployed fraud_case" in out for out in outputs) == 1, (
        "exactly one of them deploys; the others find it done", outputs)
    assert sum("unchanged fraud_case" in out for out in outputs) == len(outputs) - 1


def test_deploys_started_together_deploy_each_process_once(app, tmp_path):
    runs = [_start(["deploy"], _env(tmp_path)) for _ in range(3)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0]
    _one_deployed(outputs)
    db.session.remove()
    assert db.session.scalar(select(func.count()).where(
        AuditEvent.event_type == "process_deployed")) == PROCESSES
    assert audit.verify(db.session).ok
