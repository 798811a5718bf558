"""A database that is unreachable or refuses a write: the person gets a clear "try again"
page (503), and nothing of the failed step is saved."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from caseflow.db import db
from caseflow.models import AuditEvent, Notification, TaskRow
from tests.conftest import IsolatedClient, _make_app, login
from tests.production.support import start_review, version

UNREACHABLE = "postgresql+psycopg://caseflow@127.0.0.1:1/caseflow?connect_timeout=2"
REFUSE = {
    "sqlite": ["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event BEGIN "
               "SELECT RAISE(ABORT, 'disk full (simulated)'); END"],
    "postgresql": ["CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN "
                   "RAISE EXCEPTION 'disk full (simulated)'; END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"],
}
UNDO = {"sqlite": ["DROP TRIGGER refuse_audit"],
        "postgresql": ["DROP TRIGGER refuse_audit ON audit_event",
                       "DROP FUNCTION refuse_audit()"]}


def _form(client, task_id: int, **extra: str) -> dict[str, str]:
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    found = {name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1)
             for name in ("csrf_token", "submission_token")}
    return {**found, "note": "已核实", "action": "complete", **extra}


def _snapshot(instance_id: int) -> tuple:
    db.session.rollback()
    return (version(instance_id),
            db.session.scalar(select(func.count(AuditEvent.id))),
            db.session.scalar(select(func.count(TaskRow.id))),
            db.session.scalar(select(func.count(Notification.id))),
            tuple(db.session.scalars(select(TaskRow.state).order_by(TaskRow.id))))


def _assert_try_again(answer) -> None:
    body = answer.get_data(as_text=True)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert "请稍后重试" in body and "不会出现只保存一半的情况" in body
    assert "Traceback" not in body


def test_an_unreachable_database_shows_a_try_again_page(app, client, people, tmp_path: Path):
    login(client, "counselor1")
    down = _make_app(tmp_path / "down", UNREACHABLE).test_client()
    down.set_cookie("session", client.get_cookie("session").value)
    _assert_try_again(down.get("/"))
    english = down.get("/?lang=en")
    assert english.status_code == 503
    assert "Please try again in a moment" in english.get_data(as_text=True)


def test_a_write_refused_midway_saves_nothing_and_the_same_form_works_later(
        app, client, people):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id, needs_approval="on")
    dialect = db.engine.dialect.name
    for statement in REFUSE[dialect]:
        db.session.execute(text(statement))
    db.session.commit()
    before = _snapshot(instance_id)
    _assert_try_again(client.post(f"/tasks/{task_id}", data=form))
    assert _snapshot(instance_id) == before  # no task row, no state, no notes, no audit
    for statement in UNDO[dialect]:
        db.session.execute(text(statement))
    db.session.commit()
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    db.session.expire_all()
    assert db.session.get(TaskRow, task_id).state == "completed"
    assert version(instance_id) == before[0] + 1


def test_a_read_only_database_refuses_the_completion_cleanly(app, client, people, tmp_path):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id)
    before = _snapshot(instance_id)
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        read_only = _make_app(tmp_path / "ro", f"sqlite:///file:{url.database}?mode=ro&uri=true")
    else:
        with db.engine.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {url.database} "
                              "SET default_transaction_read_only = on"))
            conn.commit()
        read_only = _make_app(tmp_path / "ro", url.render_as_string(hide_password=False))
    ro = read_only.test_client()
    ro.set_cookie("session", client.get_cookie("session").value)
    try:
        _assert_try_again(ro.post(f"/tasks/{task_id}", data=form))
    finally:
        if url.get_backend_name() != "sqlite":
            with db.engine.connect() as conn:
                conn.execute(text(f"ALTER DATABASE {url.database} RESET "
                                  "default_transaction_read_only"))
                conn.commit()
        with read_only.app_context():
            db.engine.dispose()
    assert _snapshot(instance_id) == before


@pytest.mark.database("postgresql")
def test_the_worker_command_says_what_to_do_on_a_database_that_takes_no_writes(
        app, people, tmp_path):
    from caseflow.cli import main

    start_review(people.class1.id, people.counselor1.id)
    url = db.engine.url
    with db.engine.connect() as conn:  # as a URL naming only the old primary, after a failover
        conn.execute(text(f"ALTER DATABASE {url.database} SET default_transaction_read_only = on"))
        conn.commit()
    try:
        result = CliRunner().invoke(main, ["worker", "--once"], env={
            "CASEFLOW_DATABASE_URL": url.render_as_string(hide_password=False),
            "CASEFLOW_INSTANCE_PATH": str(tmp_path)})
    finally:
        with db.engine.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {url.database} RESET "
                              "default_transaction_read_only"))
            conn.commit()
    assert result.exit_code == 2, result.output
    assert "refused (cannot execute UPDATE in a read-only transaction); it takes no writes " \
           "(a standby server, or default_transaction_read_only): point CASEFLOW_DATABASE_URL " \
           "at the primary" in result.output
    assert "Traceback" not in result.output and "retrying in" not in result.output


def test_the_worker_command_says_clearly_that_the_database_is_down(app, tmp_path):
    from caseflow.cli import main

    result = CliRunner().invoke(main, ["worker", "--once"], env={
        "CASEFLOW_DATABASE_URL": UNREACHABLE, "CASEFLOW_INSTANCE_PATH": str(tmp_path)})
    assert result.exit_code == 2
    assert "cannot open the database" in result.output


def test_the_worker_backs_off_against_a_real_unreachable_database(tmp_path):
    from caseflow.services import timers

    down = _make_app(tmp_path, UNREACHABLE)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 4:
            raise KeyboardInterrupt

    with down.app_context(), pytest.raises(KeyboardInterrupt):
        timers.run_worker(1.0, sleep=sleep)
    assert sleeps == [2.0, 4.0, 8.0, 16.0]


@pytest.mark.database("postgresql")
def test_a_step_stuck_behind_a_held_lock_gets_try_again_and_saves_nothing(
        app, client, people, tmp_path, caplog):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id, needs_approval="on")
    before = _snapshot(instance_id)
    url = db.engine.url.render_as_string(hide_password=False)
    impatient = _make_app(tmp_path / "impatient", url, DB_LOCK_TIMEOUT_SECONDS=1)
    web = impatient.test_client()
    web.set_cookie("session", client.get_cookie("session").value)
    holder = create_engine(url)
    try:
        with holder.connect() as other:  # a stuck process holds the instance's row
            other.execute(text("SELECT id FROM workflow_instance WHERE id = :i FOR UPDATE"),
                          {"i": instance_id})
            _assert_try_again(web.post(f"/tasks/{task_id}", data=form))
            other.rollback()
        assert "canceling statement due to lock timeout" in caplog.text
        assert _snapshot(instance_id) == before
        # the lock is gone: the same form now completes the step
        assert web.post(f"/tasks/{task_id}", data=form).status_code == 302
    finally:
        holder.dispose()
        with impatient.app_context():
            db.engine.dispose()
    assert _snapshot(instance_id)[0] == before[0] + 1


def _timeouts(flask_app) -> tuple[str, str, str]:
    with flask_app.app_context(), db.engine.connect() as conn:
        found = tuple(conn.execute(text(f"SHOW {name}")).scalar() for name in (
            "lock_timeout", "idle_in_transaction_session_timeout", "statement_timeout"))
        db.engine.dispose()
        return found


@pytest.mark.database("postgresql")
def test_every_connection_gets_the_lock_idle_and_statement_timeouts(app, tmp_path,
                                                                     monkeypatch):
    url = db.engine.url.render_as_string(hide_password=False)
    assert _timeouts(app) == ("10s", "5min", "0")  # the defaults
    monkeypatch.setenv("CASEFLOW_DB_LOCK_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("CASEFLOW_DB_IDLE_IN_TRANSACTION_SECONDS", "0")
    monkeypatch.setenv("CASEFLOW_DB_STATEMENT_TIMEOUT_SECONDS", "7")
    assert _timeouts(_make_app(tmp_path / "env", url)) == ("3s", "0", "7s")  # 0: no limit


@pytest.mark.database("postgresql")
def test_serve_cancels_a_statement_after_half_its_timeout_unless_configured(app, tmp_path):
    from caseflow import serving

    url = db.engine.url.render_as_string(hide_password=False)
    for timeout, environ, expected in ((30, {}, "15s"), (0, {}, "0"),
                                       (30, {"CASEFLOW_DB_STATEMENT_TIMEOUT_SECONDS": "9"},
                                        "0")):  # the configured value is the app's own
        served = _make_app(tmp_path / f"s{timeout}{len(environ)}", url,
                           **serving.overrides(2, timeout, environ))
        assert _timeouts(served)[2] == expected


@pytest.mark.database("postgresql")
def test_the_worker_cancels_a_statement_after_half_its_stall_limit_unless_configured(
        app, tmp_path):
    from caseflow import config

    url = db.engine.url.render_as_string(hide_password=False)
    for environ, expected in (({}, "30s"), ({"CASEFLOW_WORKER_STALL_SECONDS": "10"}, "5s"),
                              ({"CASEFLOW_WORKER_STALL_SECONDS": "0"}, "0"),
                              ({"CASEFLOW_DB_STATEMENT_TIMEOUT_SECONDS": "9"}, "0")):
        worker = _make_app(tmp_path / f"w{len(environ)}{expected}", url,
                           **config.worker_overrides(environ))
        assert _timeouts(worker)[2] == expected  # (the configured 9 is the app's own)


@pytest.mark.database("postgresql")
def test_a_runaway_query_is_cancelled_and_the_person_gets_try_again(
        app, client, people, tmp_path, monkeypatch):
    from caseflow.services import inbox

    url = db.engine.url.render_as_string(hide_password=False)
    slow = _make_app(tmp_path / "slow", url, DB_STATEMENT_TIMEOUT_SECONDS=1)
    slow.test_client_class = IsolatedClient
    slow_client = slow.test_client()
    login(client, "counselor1")
    slow_client.set_cookie("session", client.get_cookie("session").value)
    real = inbox.inbox

    def runaway(*args, **kwargs):
        db.session.execute(text("SELECT pg_sleep(5)"))
        return real(*args, **kwargs)

    monkeypatch.setattr(inbox, "inbox", runaway)
    started = time.monotonic()
    _assert_try_again(slow_client.get("/"))
    assert time.monotonic() - started < 4  # cancelled after 1 s, not run for 5
    monkeypatch.setattr(inbox, "inbox", real)
    assert slow_client.get("/").status_code == 200
    with slow.app_context():
        db.engine.dispose()


def test_the_database_timeouts_must_be_whole_seconds(tmp_path):
    from caseflow import config

    for bad in ("-1", "ten", "1.5"):
        with pytest.raises(ValueError, match="CASEFLOW_DB_LOCK_TIMEOUT_SECONDS must be a "
                                             "whole number of seconds"):
            config.build(tmp_path, None, {"CASEFLOW_DB_LOCK_TIMEOUT_SECONDS": bad})
    with pytest.raises(ValueError, match="CASEFLOW_DB_NETWORK_TIMEOUT_SECONDS must be a "
                                         "whole number of seconds"):
        config.build(tmp_path, None, {"CASEFLOW_DB_NETWORK_TIMEOUT_SECONDS": "soon"})
    for settings in (config.build, lambda *args: config.worker_overrides(args[2])):
        with pytest.raises(ValueError, match="CASEFLOW_WORKER_STALL_SECONDS must be a whole "
                                             "number of seconds .0: no limit., 0 or more; "
                                             "not 'a minute'"):
            settings(tmp_path, None, {"CASEFLOW_WORKER_STALL_SECONDS": "a minute"})
    assert config.build(tmp_path, None, {})["WORKER_STALL_SECONDS"] == 60
    built = config.build(tmp_path, None, {"CASEFLOW_DB_IDLE_IN_TRANSACTION_SECONDS": "60",
                                          "CASEFLOW_DB_CONNECT_TIMEOUT_SECONDS": "8"})
    assert (built["DB_LOCK_TIMEOUT_SECONDS"], built["DB_IDLE_IN_TRANSACTION_SECONDS"]) == (10, 60)
    assert (built["DB_CONNECT_TIMEOUT_SECONDS"], built["DB_NETWORK_TIMEOUT_SECONDS"]) == (8, 10)


def test_no_free_connection_in_time_gives_try_again_not_an_error_page(app, client, people,
                                                                      tmp_path):
    url = db.engine.url.render_as_string(hide_password=False)
    busy = _make_app(tmp_path / "busy", url, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2})
    login(client, "counselor1")
    busy.test_client_class = IsolatedClient
    busy_client = busy.test_client()
    busy_client.set_cookie("session", client.get_cookie("session").value)
    with busy.app_context():
        engine = db.engine
    from tests.api.conftest import bearer

    token = bearer(people.counselor1)
    held = engine.connect()  # every connection of the pool is in use
    try:
        _assert_try_again(busy_client.get("/"))
        api = busy_client.get("/api/v1/tasks", headers=token)
        assert api.status_code == 503 and api.headers["Retry-After"] == "5"
        assert api.get_json()["message"] == "The database is busy: try again."
    finally:
        held.close()
    assert busy_client.get("/").status_code == 200  # still signed in, and served
    engine.dispose()
