"""`caseflow serve` runs the app under gunicorn with several worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import types
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import text

from caseflow import serving
from caseflow.db import db
from caseflow.serving import stop_promptly_while_booting
from tests.conftest import _make_app
from tests.production.test_worker import CASEFLOW, _env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float) -> int:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_answers_from_several_gunicorn_workers(app, tmp_path):
    port = _free_port()
    server = subprocess.Popen([CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                               "--threads", "2"], env=_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        assert _get(f"http://127.0.0.1:{port}/login", deadline) == 200
        assert all(_get(f"http://127.0.0.1:{port}/login", deadline) == 200 for _ in range(10))
    finally:
        server.send_signal(signal.SIGTERM)
        # a stop that reaches a worker in the microseconds between its fork and our post_fork
        # hook is still lost to gunicorn, which then waits its 30 s graceful timeout
        output, _ = server.communicate(timeout=45)
    assert f"caseflow on http://127.0.0.1:{port}/ with 2 workers x 2 threads" in output
    assert output.count("Booting worker") == 2 and "Using worker: gthread" in output
    assert db.engine.url.database.split("/")[-1] in output  # it says which database it uses


def test_the_access_log_keeps_paths_but_not_their_queries(app, tmp_path):
    port, log = _free_port(), tmp_path / "access.log"
    server = subprocess.Popen([CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "--access-log", str(log)], env=_env(tmp_path),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        query = urllib.parse.urlencode({"next": "/students?q=张三"})
        assert _get(f"http://127.0.0.1:{port}/login?{query}", time.monotonic() + 60) == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=45)
    [line] = [ln for ln in log.read_text(encoding="utf-8").splitlines() if "/login" in ln]
    assert '"GET /login" 200 ' in line and line.endswith("ms") and line.startswith("127.0.0.1 ")
    assert "next" not in line and "q=" not in line and "%E5" not in line


def test_serve_starts_one_worker_per_cpu_core_unless_told(app, tmp_path):
    port = _free_port()
    server = subprocess.Popen([CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}"],
                              env=_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert _get(f"http://127.0.0.1:{port}/login", time.monotonic() + 60) == 200
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=45)  # as above
    cores = min(os.cpu_count() or 2, 64)
    assert f"with {cores} workers x 1 threads" in output
    assert output.count("Booting worker") == cores and "Using worker: sync" in output


def _boot_worker(stop_before_hook: bool, stop_after_hook: bool) -> int:
    """Fork a process that boots like a gunicorn worker and return how it ended."""
    pid = os.fork()
    if pid == 0:  # the child: the master's handler only queues, as gunicorn's does
        server = types.SimpleNamespace(SIG_QUEUE=[])
        signal.signal(signal.SIGTERM, lambda sig, frame: server.SIG_QUEUE.append(sig))
        if stop_before_hook:
            os.kill(os.getpid(), signal.SIGTERM)
        try:
            stop_promptly_while_booting(server)
        except SystemExit:
            os._exit(0)
        if stop_after_hook:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        os._exit(3)
    return os.waitpid(pid, 0)[1]


def test_a_worker_stopped_while_it_boots_ends_at_once_not_after_the_graceful_timeout():
    assert os.waitstatus_to_exitcode(_boot_worker(True, False)) == 0
    assert os.waitstatus_to_exitcode(_boot_worker(False, True)) == -signal.SIGTERM
    assert os.waitstatus_to_exitcode(_boot_worker(False, False)) == 3  # no stop: it boots on


@pytest.mark.parametrize("command", [["serve", "--bind", "127.0.0.1:0"], ["worker"]])
def test_serve_and_worker_refuse_a_database_without_caseflow_schema(app, tmp_path, command):
    env = {**_env(tmp_path), "CASEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    done = subprocess.run([CASEFLOW, *command], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "the database has no caseflow schema: run `caseflow init-db`" in done.stderr
    assert "Booting worker" not in done.stdout + done.stderr
    assert "firing due timers" not in done.stdout


def test_each_serving_process_keeps_a_connection_per_thread(app, tmp_path):
    url = db.engine.url.render_as_string(hide_password=False)
    served = _make_app(tmp_path / "served", url,
                       SQLALCHEMY_ENGINE_OPTIONS=serving.pool_options(threads=8, timeout=30))
    with served.app_context():
        pool = db.engine.pool
        assert (pool.size(), pool.timeout()) == (8, 10)
        held = [db.engine.connect() for _ in range(8 + serving.SPARE_CONNECTIONS)]
        assert all(c.execute(text("SELECT 1")).scalar_one() == 1 for c in held)
        for c in held:
            c.close()
        db.engine.dispose()


def test_the_connection_budget_is_checked_against_the_server(app):
    if db.engine.dialect.name != "postgresql":
        assert serving.connection_budget(64, 64) is None  # SQLite: no server to ask
        return
    allowed = (int(db.session.execute(text("SHOW max_connections")).scalar_one())
               - int(db.session.execute(text("SHOW superuser_reserved_connections"))
                     .scalar_one()))
    assert serving.connection_budget(2, 4) is None
    warning = serving.connection_budget(64, 64)
    assert warning.startswith("warning: 64 workers x (64 threads + 2 spare) may open 4224 "
                              f"database connections, and this PostgreSQL server takes "
                              f"{allowed} for everything together")


@pytest.mark.database("postgresql")
def test_serve_warns_when_its_workers_could_exhaust_the_servers_connections(app, tmp_path):
    port = _free_port()
    server = subprocess.Popen([CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}", "--workers",
                               "4", "--threads", "64"], env=_env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _get(f"http://127.0.0.1:{port}/readyz", time.monotonic() + 60) == 200
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=45)
    assert "warning: 4 workers x (64 threads + 2 spare) may open 264 database connections" \
        in output
