"""`GET /healthz`, `GET /readyz` and `caseflow health`: database, schema, and escalations
fired on time."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from caseflow import audit, clock, config
from caseflow.db import db
from caseflow.models import TimerRow
from caseflow.services import backup, health, timers
from tests.conftest import _make_app
from tests.production.support import start_review, worker_alive
from tests.production.test_db_errors import UNREACHABLE
from tests.production.test_worker import _env


def _overdue_by(seconds: int) -> None:
    """Move the clock to `seconds` after the first waiting timer fell due (none fires)."""
    due = db.session.scalar(select(TimerRow.due_at).where(TimerRow.state == "waiting")
                            .order_by(TimerRow.due_at).limit(1))
    due = due if due.tzinfo else due.replace(tzinfo=clock.now().tzinfo)
    clock.advance(due - clock.now() + timedelta(seconds=seconds))


def test_a_working_caseflow_answers_200_to_anyone_without_signing_in(app, client, people):
    start_review(people.class1.id, people.counselor1.id)  # a timer waits, not yet due
    worker_alive()
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["schema"] == "ok"
    assert body["timers"] == {"overdue": 0, "oldest_overdue_seconds": None}
    assert body["backup"] == {"last_at": None, "age_seconds": None}  # not asked for: fine
    assert body["workers"]["running"] == 1
    assert body["workers"]["last_seen_at"].startswith(clock.now().isoformat()[:16])
    assert body["problems"] == []


def test_readyz_stays_200_while_timers_are_late_and_fails_on_the_database_or_schema(
        app, client, people, tmp_path: Path):
    # a late escalation fails /healthz (the monitor) but must not take this app server
    # out of the load balancer: serving pages does not fix the worker
    app.config["HEALTH_BACKUP_MAX_AGE_HOURS"] = 26
    start_review(people.class1.id, people.counselor1.id)
    _overdue_by(600)
    assert client.get("/healthz").status_code == 503
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["status"] == "ok" and body["problems"] == []
    assert set(body) == {"status", "database", "schema", "checked_at", "problems"}
    db.session.execute(text("UPDATE alembic_version SET version_num = '0012'"))
    db.session.commit()
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.get_json()["schema"] == "behind"
    assert "run `caseflow init-db`" in answer.get_json()["problems"][0]
    down = _make_app(tmp_path / "down", UNREACHABLE).test_client().get("/readyz")
    assert down.status_code == 503 and down.get_json()["database"] == "unreachable"


def test_a_backup_older_than_asked_for_fails_the_check_until_one_is_made(
        app, client, tmp_path, travel):
    app.config["HEALTH_BACKUP_MAX_AGE_HOURS"] = 26
    worker_alive()
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["problems"] == [
        "no backup has been made (`caseflow backup make`); one is expected every 26 h"]
    made_at = clock.now()
    backup.make(tmp_path / "nightly.sqlite3" if db.engine.url.get_backend_name() == "sqlite"
                else tmp_path / "nightly.pgdump", audit.Actor(None, "cli:operator"))
    made_by = clock.now()  # the copy may end in the next minute
    assert client.get("/healthz").status_code == 200
    travel.by(hours=27)
    worker_alive()
    answer = client.get("/healthz")
    body = answer.get_json()
    assert answer.status_code == 503 and body["backup"]["age_seconds"] >= 27 * 3600
    assert made_at <= datetime.fromisoformat(body["backup"]["last_at"]) <= made_by
    assert body["problems"] == ["the last backup was made 27 h ago, more than the 26 h "
                                "allowed: is the backup job running?"]


def test_timers_left_unfired_past_the_grace_fail_the_check_until_a_worker_fires_them(
        app, client, people):
    start_review(people.class1.id, people.counselor1.id)
    _overdue_by(60)  # late, but within the 120 s a worker killed mid-work may take
    worker_alive()
    assert client.get("/healthz").status_code == 200
    _overdue_by(300)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "failing" and body["timers"]["overdue"] == 1
    assert body["timers"]["oldest_overdue_seconds"] == 300
    assert "is `caseflow worker` running?" in body["problems"][0]
    assert "no timer worker has been seen for 240 s" in body["problems"][1]
    assert timers.run_worker(1.0, once=True) == 1  # a worker fires it, and is seen
    assert client.get("/healthz").status_code == 200


def test_a_caseflow_without_a_running_timer_worker_fails_the_check(app, client, travel):
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["problems"] == [
        "no timer worker has run against this database: start `caseflow worker`, or "
        "escalations never fire"]
    assert answer.get_json()["workers"] == {"running": 0, "last_seen_at": None,
                                            "clock_skew_seconds": None}
    timers.run_worker(1.0, once=True)
    assert client.get("/healthz").status_code == 200
    travel.by(seconds=100)  # within the grace: a worker sleeping or in a long round
    assert client.get("/healthz").status_code == 200
    travel.by(seconds=100)
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.get_json()["workers"]["running"] == 0
    assert answer.get_json()["problems"] == [
        "no timer worker has been seen for 200 s: is `caseflow worker` running?"]
    # nothing of whom or where: the worker's host is in the table, not in the answer
    assert socket.gethostname() not in answer.get_data(as_text=True)


def test_a_worker_notes_its_life_every_half_minute_not_every_round(app, travel):
    from caseflow.models import WorkerBeat
    from caseflow.services.beats import Beat

    beat = Beat(clock.now(), name="w1")
    first = clock.now()
    beat.note(2, first)
    travel.by(seconds=10)
    beat.note(1, clock.now())  # too soon: no write
    row = db.session.get(WorkerBeat, "w1", populate_existing=True)
    assert (row.beat_at, row.fired) == (first, 2)
    travel.by(seconds=25)
    later = clock.now()
    beat.note(0, later)
    row = db.session.get(WorkerBeat, "w1", populate_existing=True)
    assert (row.beat_at, row.fired) == (later, 3)
    travel.by(days=8)  # a worker gone for more than a week is forgotten
    Beat(clock.now(), name="w2").note(0, clock.now())
    assert db.session.get(WorkerBeat, "w1", populate_existing=True) is None


def test_the_grace_is_configurable(app, people):
    start_review(people.class1.id, people.counselor1.id)
    _overdue_by(60)
    worker_alive()
    assert health.check().ok
    app.config["HEALTH_TIMER_GRACE_SECONDS"] = 30
    result = health.check()
    assert not result.ok and result.overdue_timers == 1


def test_a_grace_that_is_not_a_number_of_seconds_is_refused_at_start(tmp_path):
    for bad in ("2m", "0", "-5"):
        with pytest.raises(ValueError, match="CASEFLOW_HEALTH_TIMER_GRACE_SECONDS must be a "
                                             "whole number of seconds"):
            config.build(tmp_path, None, {"CASEFLOW_HEALTH_TIMER_GRACE_SECONDS": bad})
    built = config.build(tmp_path, None, {"CASEFLOW_HEALTH_TIMER_GRACE_SECONDS": "300"})
    assert built["HEALTH_TIMER_GRACE_SECONDS"] == 300
    with pytest.raises(ValueError, match="CASEFLOW_HEALTH_BACKUP_MAX_AGE_HOURS must be a "
                                         "whole number of hours"):
        config.build(tmp_path, None, {"CASEFLOW_HEALTH_BACKUP_MAX_AGE_HOURS": "1d"})
    built = config.build(tmp_path, None, {"CASEFLOW_HEALTH_BACKUP_MAX_AGE_HOURS": "26"})
    assert built["HEALTH_BACKUP_MAX_AGE_HOURS"] == 26


def test_a_schema_behind_the_code_or_ahead_of_it_or_missing_is_named(app, client):
    [head], _ = health.code_revisions()
    cases = {"0012": ("behind", "run `caseflow init-db`"),
             "9999": ("newer", "which this code does not know"),
             None: ("empty", "has no caseflow schema")}
    for revision, (schema, words) in cases.items():
        if revision is None:
            db.session.execute(text("DELETE FROM alembic_version"))
        else:
            db.session.execute(text("UPDATE alembic_version SET version_num = :r"),
                               {"r": revision})
        db.session.commit()
        answer = client.get("/healthz")
        assert answer.status_code == 503, revision
        body = answer.get_json()
        assert body["schema"] == schema and words in body["problems"][0], body
        assert body["timers"]["overdue"] is None  # not counted on a schema it does not know
        if revision is not None:
            assert revision in body["problems"][0] and head in body["problems"][0]
    db.session.execute(text("INSERT INTO alembic_version (version_num) VALUES (:r)"),
                       {"r": head})
    db.session.commit()
    worker_alive()
    assert client.get("/healthz").status_code == 200


def test_an_unreachable_database_fails_the_check_without_saying_where_it_is(
        app, tmp_path: Path):
    answer = _make_app(tmp_path / "down", UNREACHABLE).test_client().get("/healthz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["database"] == "unreachable" and body["status"] == "failing"
    assert body["schema"] == "unknown" and body["timers"]["overdue"] is None  # never read
    text_ = answer.get_data(as_text=True)
    assert "127.0.0.1" not in text_ and "caseflow@" not in text_ and "5432" not in text_


def test_the_health_command_exits_1_and_says_why_when_timers_are_late(app, people, tmp_path):
    from caseflow.cli import main

    env = {k: v for k, v in _env(tmp_path).items() if k.startswith("CASEFLOW_")}
    worker_alive()
    healthy = CliRunner().invoke(main, ["health"], env=env)
    assert healthy.exit_code == 0, healthy.output
    assert "healthy" in healthy.output and "overdue timers: 0" in healthy.output
    assert "timer workers running: 1" in healthy.output
    start_review(people.class1.id, people.counselor1.id)
    _overdue_by(600)
    late = CliRunner().invoke(main, ["health"], env=env)
    assert late.exit_code == 1
    assert "FAILING" in late.output and "is `caseflow worker` running?" in late.output
    as_json = CliRunner().invoke(main, ["health", "--json"], env=env)
    assert as_json.exit_code == 1 and '"overdue": 1' in as_json.output


def test_the_health_command_with_ready_checks_only_the_database_and_schema(
        app, people, tmp_path):
    from caseflow.cli import main

    env = {k: v for k, v in _env(tmp_path).items() if k.startswith("CASEFLOW_")}
    start_review(people.class1.id, people.counselor1.id)
    _overdue_by(600)
    ready = CliRunner().invoke(main, ["health", "--ready"], env=env)
    assert ready.exit_code == 0, ready.output
    assert ready.output.splitlines() == ["database: ok; schema: ok", "ready"]
    as_json = CliRunner().invoke(main, ["health", "--ready", "--json"], env=env)
    assert as_json.exit_code == 0 and '"status": "ok"' in as_json.output
    assert "timers" not in as_json.output
    db.session.execute(text("DELETE FROM alembic_version"))
    db.session.commit()
    empty = CliRunner().invoke(main, ["health", "--ready"], env=env)
    assert empty.exit_code == 1 and "NOT READY" in empty.output
    assert "run `caseflow init-db`" in empty.output


def test_a_worker_deep_in_a_long_backlog_is_still_seen(app, people, monkeypatch):
    from caseflow.models import WorkerBeat

    for _ in range(4):
        start_review(people.class1.id, people.counselor1.id)
    _overdue_by(30)
    real = timers.fire_instance

    def slow(instance_id, now):  # each instance takes 25 s: the round takes 100 s
        clock.advance(timedelta(seconds=25))
        return real(instance_id, now)

    claim = timers.claim_due
    monkeypatch.setattr(timers, "claim_due", lambda now: claim(now, limit=1))  # 4 batches
    monkeypatch.setattr(timers, "fire_instance", slow)
    started = clock.now()
    assert timers.run_worker(1.0, once=True) == 4
    [row] = db.session.scalars(select(WorkerBeat)).all()
    # noted during the round (after the 1st and the 3rd batch: half a minute apart at most
    # once a note is written), not only at its end, 100 s in
    assert 75 <= (row.beat_at - started).total_seconds() < 76 and row.fired == 3


@pytest.mark.database("postgresql")
def test_a_database_that_takes_no_writes_takes_the_server_out_of_the_balancer(
        app, client, people, tmp_path):
    from tests.conftest import _pg_admin, login
    from tests.production.test_db_errors import _assert_try_again, _form

    name = db.engine.url.database
    task_id = start_review(people.class1.id, people.counselor1.id)[1]
    login(client, "counselor1")
    form = _form(client, task_id)  # opened before; submitted once writes are refused
    _pg_admin(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    db.session.remove()
    db.engine.dispose()  # new connections take the setting, as after pointing at a replica
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.get_json()["database"] == "read-only"
        assert answer.get_json()["problems"] == [
            "the database takes no writes (default_transaction_read_only is on): every "
            "submission would fail; point CASEFLOW_DATABASE_URL at the primary"]
        assert client.get("/healthz").get_json()["database"] == "read-only"
        _assert_try_again(client.post(f"/tasks/{task_id}", data=form))
    finally:
        _pg_admin(f"ALTER DATABASE {name} RESET default_transaction_read_only")
        db.session.remove()
        db.engine.dispose()
    worker_alive()
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").get_json()["database"] == "ok"
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302, "then it goes through"


@pytest.mark.database("postgresql")
def test_a_standby_server_is_named_as_one(tmp_path):
    from tests.production.cluster import Server, migrated_app

    primary = Server()
    try:
        with migrated_app(primary, tmp_path / "primary"):
            pass
        replica = primary.standby()
        try:
            answer = _make_app(tmp_path / "replica", replica.url).test_client().get("/readyz")
        finally:
            replica.remove()
    finally:
        primary.remove()
    assert answer.status_code == 503
    assert answer.get_json()["schema"] == "ok", "the replica has the whole schema"
    assert answer.get_json()["problems"] == [
        "the database takes no writes (a standby server): every submission would fail; "
        "point CASEFLOW_DATABASE_URL at the primary"]


@pytest.mark.database("postgresql")
def test_nearly_all_of_postgresqls_connections_taken_fails_the_check(tmp_path):
    import psycopg

    from tests.production.cluster import Server, migrated_app

    server = Server("--max-connections", "12")  # 3 reserved: 9 for caseflow and the rest
    extra: list[psycopg.Connection] = []
    try:
        with migrated_app(server, tmp_path):
            db.engine.dispose()  # the check below counts only its own connection
            worker_alive()
            first = health.check()
            assert first.ok, first.problems
            used, allowed = first.connections
            assert allowed == 9 and used < 9
            raw = server.url.replace("postgresql+psycopg", "postgresql")
            extra = [psycopg.connect(raw) for _ in range(allowed - used)]
            full = health.check()
            assert full.connections == (9, 9)
            assert full.problems == [
                "9 of the 9 connections PostgreSQL allows are in use: the next app server, "
                "worker or backup to connect may be refused; raise max_connections, or serve "
                "with fewer --workers or --threads"]
            assert full.as_dict()["connections"] == {"used": 9, "allowed": 9}
            for conn in extra:
                conn.close()
            assert health.check().ok
    finally:
        for conn in extra:
            conn.close()
        server.remove()


@pytest.mark.database("sqlite")
def test_on_sqlite_no_connections_are_counted(app, client):
    worker_alive()
    assert client.get("/healthz").get_json()["connections"] == {"used": None, "allowed": None}
