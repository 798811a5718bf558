"""The migrations alone build the whole schema the models describe, on an empty database
(PostgreSQL when the suite runs against a server, else SQLite): tables, columns, types,
indexes, constraints, and the audit trail's append-only triggers."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from caseflow.db import db
from caseflow.services import setup
from tests.conftest import PG_SERVER, _make_app, _pg_admin, _pg_url, _worker

TRIGGERS = {"postgresql": {"audit_event_no_update", "audit_event_no_truncate"},
            "sqlite": {"audit_event_no_update", "audit_event_no_delete"}}


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[Flask]:
    """An app on a brand-new, empty database, upgraded by the migrations alone."""
    name = f"cf_schema_{_worker()}"
    if PG_SERVER:
        _pg_admin(f"DROP DATABASE IF EXISTS {name}")
        _pg_admin(f"CREATE DATABASE {name}")
        url = _pg_url(name)
    else:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = _make_app(tmp_path, url)
    with app.app_context():
        setup.migrate_database()
        yield app
        db.session.remove()
        db.engine.dispose()
    if PG_SERVER:
        _pg_admin(f"DROP DATABASE IF EXISTS {name}")


def test_migrations_build_exactly_the_models_schema(empty_db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], (
        "the migrated schema differs from the models: add a migration for what the models "
        "declare, or declare in the models what a migration creates (as "
        f"caseflow/models/drafts.py does for the indexes of 0003): {differences}")


def test_every_migration_head_is_applied(empty_db):
    heads = set(ScriptDirectory.from_config(
        empty_db.extensions["migrate"].migrate.get_config(
            str(Path(setup.MIGRATIONS)))).get_heads())
    with db.engine.connect() as conn:
        applied = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    assert applied == heads


def test_the_audit_trail_triggers_exist_and_refuse_changes(empty_db):
    dialect = db.engine.dialect.name
    with db.engine.connect() as conn:
        if dialect == "postgresql":
            names = set(conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass "
                "AND NOT tgisinternal")).scalars())
        else:
            names = set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'audit_event'")).scalars())
    assert names == TRIGGERS[dialect]
    from caseflow import audit

    audit.record("schema_checked")
    db.session.commit()
    for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_the_inbox_and_worker_indexes_exist(empty_db):
    found = inspect(db.engine)
    task = {i["name"] for i in found.get_indexes("task")}
    timer = {i["name"] for i in found.get_indexes("timer")}
    assert {"ix_task_assignee_open", "ix_task_role_open", "ix_task_role_class_open",
            "ix_task_state_due"} <= task
    assert "ix_timer_state_due" in timer


@pytest.mark.database("postgresql")  # SQLite has no per-column compression
def test_workflow_state_is_compressed_with_lz4(empty_db):
    with db.engine.connect() as conn:
        method = conn.execute(text(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = "
            "'workflow_instance'::regclass AND attname = 'state'")).scalar()
    assert method == "l"  # lz4 (Debian's PostgreSQL 15 is built with it)


STATE = '{"tasks": {}, "data": {"what_happened": "刷单被骗"}, "pad": "' + "x" * 5000 + '"}'



def _instances(n: int) -> None:
    from caseflow.models import ProcessVersion, WorkflowInstance

    version = ProcessVersion(process_id="p", source_hash="h", sources="{}", deployed_by="t")
    db.session.add(version)
    db.session.flush()
    db.session.add_all([WorkflowInstance(process_version_id=version.id, state=STATE)
                        for _ in range(n)])
    db.session.commit()


def _stored() -> list[tuple[str, object]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT typeof(state), state FROM workflow_instance ORDER BY id"))]


@pytest.mark.database("sqlite")  # PostgreSQL compresses the column itself (lz4)
def test_workflow_state_is_stored_zlib_compressed_on_sqlite_and_read_back_whole(empty_db):
    from caseflow.models import WorkflowInstance

    _instances(1)
    [(kind, raw)] = _stored()
    assert kind == "blob" and len(raw) < len(STATE.encode()) / 10
    assert zlib.decompress(raw).decode() == STATE
    db.session.expunge_all()
    assert db.session.scalars(select(WorkflowInstance)).one().state == STATE


@pytest.mark.database("sqlite")
def test_migration_0014_compresses_the_states_written_before_it_and_0013_restores_them(
        empty_db):
    config = empty_db.extensions["migrate"].migrate.get_config(str(Path(setup.MIGRATIONS)))
    _instances(3)
    db.session.remove()
    command.downgrade(config, "0013")
    assert _stored() == [("text", STATE)] * 3  # as caseflow stored them before 0014
    command.upgrade(config, "head")
    stored = _stored()
    assert [kind for kind, _ in stored] == ["blob"] * 3
    assert {zlib.decompress(raw).decode() for _, raw in stored} == {STATE}


def test_migration_0015_makes_each_process_newest_version_current(empty_db):
    from caseflow.models import ProcessCurrent, ProcessVersion

    config = empty_db.extensions["migrate"].migrate.get_config(str(Path(setup.MIGRATIONS)))
    db.session.remove()
    command.downgrade(config, "0014")
    db.session.execute(text(
        "INSERT INTO process_version (process_id, source_hash, sources, deployed_at, "
        "deployed_by) VALUES ('p', 'h1', '{}', :at, 't'), ('p', 'h2', '{}', :at, 't'), "
        "('q', 'h1', '{}', :at, 't')"), {"at": "2026-12-01 08:00:00+00:00"})
    db.session.commit()
    db.session.remove()
    command.upgrade(config, "head")
    ids = {(v.process_id, v.source_hash): v.id for v in db.session.scalars(select(ProcessVersion))}
    current = {c.process_id: c.version_id for c in db.session.scalars(select(ProcessCurrent))}
    assert current == {"p": ids[("p", "h2")], "q": ids[("q", "h1")]}
