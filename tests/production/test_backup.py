"""`caseflow backup`: a whole, checked, private copy of a running database (both databases)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import current_app
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from caseflow import audit, clock
from caseflow.cli import main
from caseflow.db import db
from caseflow.models import AuditEvent, AuditHead, Case, Lookup
from caseflow.services import backup, cases
from tests import factories
from tests.conftest import PG_SERVER, _pg_admin, _pg_url, unavailable

OPERATOR = audit.Actor(None, "cli:operator", "admin")


@pytest.fixture
def world(app):
    people = factories.deployed_org()
    now = clock.now()
    cases.register(people.student1.id, {
        "discovery_source": "self_report", "category": "victim", "fraud_type": "order_brushing",
        "what_happened": "刷单被骗", "loss_cny": "8000.00", "money_source": "living_expenses",
        "last_transfer_at": (now - timedelta(hours=2)).isoformat(), "ongoing": "no"},
        people.counselor1, factories.actor(people.counselor1))
    return people


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder for the copies (tmp_path holds the test's SQLite database)."""
    out = tmp_path / "backups"
    out.mkdir()
    return out


def _head() -> int:
    db.session.expire_all()
    return db.session.get(AuditHead, 1).seq


def _events(kind: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == kind)))


def test_a_backup_is_a_private_checked_copy_and_an_audit_event(world, folder: Path):
    seq = _head()
    made = backup.make(folder, OPERATOR)
    assert made.path.parent == folder and made.path.name.startswith("caseflow-")
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert (made.cases, made.audit_seq) == (1, seq)
    assert [p.name for p in folder.iterdir()] == [made.path.name]  # no partial file left
    [event] = _events("backup_made")
    assert event.actor == "cli:operator" and made.sha256 in event.detail
    found = backup.check(made.path)
    assert found.problems == []
    if made.kind == backup.SQLITE:
        assert (found.cases, found.audit_seq) == (1, seq)
        assert f"audit chain: ok: {seq} audit events, chain intact" in found.facts


def test_a_write_in_progress_is_not_in_the_copy_and_the_writer_is_not_stopped(
        world, folder: Path):
    writer = db.engine.connect()
    pending = writer.begin()
    writer.execute(insert(Lookup).values(kind="fraud_type", code="in_flight", label_zh="进行中",
                                         label_en="In flight", crisis=False, sort=99,
                                         active=True))
    result: dict[str, object] = {}
    app = current_app._get_current_object()
    thread = threading.Thread(target=_make_in_app, args=(app, folder, result))
    thread.start()
    # SQLite: the copy is made under the writer's lock; only the audit event then waits
    # for it. PostgreSQL: nothing waits.
    for _ in range(200):
        if any(p.suffix == ".sqlite3" or p.suffix == ".pgdump" for p in folder.iterdir()):
            break
        threading.Event().wait(0.05)
    pending.commit()
    writer.close()
    thread.join(timeout=30)
    made = result["made"]
    assert isinstance(made, backup.Backup)
    assert _codes_in(made) == {"order_brushing"}
    assert db.session.scalar(select(Lookup.code).where(Lookup.code == "in_flight"))


def _make_in_app(app, folder: Path, result: dict[str, object]) -> None:
    with app.app_context():
        result["made"] = backup.make(folder, OPERATOR)
        db.session.remove()


def _codes_in(made: backup.Backup) -> set[str]:
    """Return the fraud-type codes in the copy that are in_flight or order_brushing."""
    wanted = ("in_flight", "order_brushing")
    if made.kind == backup.SQLITE:
        conn = sqlite3.connect(made.path)
        try:
            rows = conn.execute("SELECT code FROM lookup WHERE code IN (?, ?)", wanted)
            return {r[0] for r in rows}
        finally:
            conn.close()
    with _restored(made.path) as session:
        return set(session.scalars(select(Lookup.code).where(Lookup.code.in_(wanted))))


def test_a_backup_never_overwrites_a_file(world, folder: Path):
    target = folder / "nightly.bak"
    target.write_bytes(b"yesterday")
    with pytest.raises(backup.BackupRefused, match="exists: a backup never overwrites"):
        backup.make(target, OPERATOR)
    assert target.read_bytes() == b"yesterday"
    assert sorted(p.name for p in folder.iterdir()) == ["nightly.bak"]
    with pytest.raises(backup.BackupRefused, match="no such folder"):
        backup.make(folder / "missing" / "x.bak", OPERATOR)
    assert _events("backup_made") == []


@pytest.mark.database("sqlite")
def test_a_copy_whose_audit_event_cannot_be_written_is_not_kept(world, folder: Path):
    # another writer holds SQLite's write lock past the busy timeout as the copy is done
    db.session.connection().exec_driver_sql("PRAGMA busy_timeout=200")
    writer = sqlite3.connect(db.engine.url.database)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            backup.make(folder, OPERATOR)
        assert list(folder.iterdir()) == []  # no copy of the data without its event
    finally:
        writer.rollback()
        writer.close()
        db.session.connection().exec_driver_sql("PRAGMA busy_timeout=10000")
    assert _events("backup_made") == []
    assert backup.make(folder, OPERATOR).path.exists()  # the lock gone, it works


@pytest.mark.database("sqlite")
def test_check_names_the_altered_audit_row_of_a_copy(world, folder: Path):
    made = backup.make(folder / "copy.sqlite3", OPERATOR)
    conn = sqlite3.connect(made.path)
    conn.execute("DROP TRIGGER audit_event_no_update")
    conn.execute("UPDATE audit_event SET detail = '{}' WHERE seq = 2")
    conn.commit()
    conn.close()
    found = backup.check(made.path)
    assert any("row seq 2" in p and "altered" in p for p in found.problems)
    with pytest.raises(backup.BackupRefused, match="an SQLite copy is checked in place"):
        backup.check(made.path, "postgresql+psycopg://nobody@/x")


def test_check_refuses_what_is_not_a_backup(app, folder: Path):
    junk = folder / "notes.txt"
    junk.write_text("not a database")
    with pytest.raises(backup.BackupRefused, match="neither an SQLite database nor a pg_dump"):
        backup.check(junk)
    with pytest.raises(backup.BackupRefused, match="no such file"):
        backup.check(folder / "missing.sqlite3")
    other = folder / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    assert backup.check(other).problems == ["not a caseflow database: it has no migration record"]


@pytest.mark.database("postgresql")
def test_a_pg_dump_restores_into_an_empty_database_with_its_chain_intact(world, folder: Path):
    seq = _head()
    made = backup.make(folder / "copy.pgdump", OPERATOR)
    assert made.kind == backup.POSTGRES and made.path.read_bytes().startswith(b"PGDMP")
    with _restored(made.path) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        verdict = audit.verify(session, b"test-audit-key")
        assert verdict.ok and verdict.checked == seq


@pytest.mark.database("postgresql")
def test_check_restores_a_dump_into_an_empty_database_and_walks_its_chain(world, folder: Path):
    made = backup.make(folder / "copy.pgdump", OPERATOR)
    name = f"cf_check_{os.getpid()}"
    _pg_admin(f"CREATE DATABASE {name}")
    try:
        found = backup.check(made.path, _pg_url(name))
        assert found.problems == [] and (found.cases, found.audit_seq) == (1, made.audit_seq)
        assert f"audit chain: ok: {made.audit_seq} audit events, chain intact" in found.facts
        with pytest.raises(backup.BackupRefused, match="is not empty"):
            backup.check(made.path, _pg_url(name))  # it holds the first restore now
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.database("postgresql")
def test_a_failed_pg_dump_leaves_no_file_and_no_event(world, folder: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "pg_dump"  # stands in for a pg_dump older than the server
    fake.write_text("#!/bin/sh\necho 'pg_dump: error: aborting because of server version "
                    "mismatch' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    with pytest.raises(backup.BackupRefused, match="pg_dump failed: .*server version mismatch"):
        backup.make(folder, OPERATOR)
    assert list(folder.iterdir()) == []
    assert _events("backup_made") == []


@pytest.mark.database("postgresql")
def test_a_stopped_backup_stops_pg_dump_and_leaves_no_partial_copy(world, folder: Path,
                                                                   tmp_path: Path, cli_database):
    from tests.production.test_db_restart import _wait_for
    from tests.production.test_worker import CASEFLOW

    tools, started = tmp_path / "bin", tmp_path / "pg_dump.pid"
    tools.mkdir()
    fake = tools / "pg_dump"  # a pg_dump that never ends, as against a hung server
    fake.write_text(f"#!/bin/sh\necho $$ > {started}\nexec sleep 600\n")
    fake.chmod(0o755)
    db.session.remove()
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}",
           "CASEFLOW_INSTANCE_PATH": str(tmp_path / "instance")}
    making = subprocess.Popen([CASEFLOW, "backup", "make", str(folder)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started.exists, "pg_dump to start")
        assert [p.suffix for p in folder.iterdir()] == [".partial"]  # every student's data
        making.send_signal(signal.SIGTERM)  # systemd's stop, or its TimeoutStartSec
        _, err = making.communicate(timeout=30)
    finally:
        making.kill()
    assert making.returncode == 1, err
    assert "backup: stopped; no copy was made (the partial one was removed)" in err
    assert list(folder.iterdir()) == []
    assert not Path(f"/proc/{int(started.read_text())}").exists()  # pg_dump was stopped
    assert _events("backup_made") == []


@pytest.mark.database("postgresql")
def test_check_reports_a_truncated_dump(world, folder: Path):
    made = backup.make(folder / "copy.pgdump", OPERATOR)
    cut = folder / "cut.pgdump"
    cut.write_bytes(made.path.read_bytes()[:200])
    found = backup.check(cut)
    assert found.problems and "pg_restore cannot read" in found.problems[0]


class _restored:
    """Restore a pg_dump archive into a new database; give a session on it."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.name = f"cf_restore_{id(self)}"

    def __enter__(self) -> Session:
        if shutil.which("pg_restore") is None:
            unavailable("pg_restore is not installed")
        _pg_admin(f"CREATE DATABASE {self.name}")
        url = _pg_url(self.name)
        libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
        done = subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq}", str(self.archive)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        self.engine = create_engine(url)
        self.session = Session(self.engine)
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.engine.dispose()
        _pg_admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def test_the_commands_make_and_check_a_backup(world, folder: Path, cli_database):
    db.session.remove()  # let the command's own app write the audit event
    made = CliRunner().invoke(main, ["backup", "make", str(folder)])
    assert made.exit_code == 0, made.output
    path = Path(made.output.split("backup: ", 1)[1].split(" (", 1)[0])
    assert "sha256: " in made.output and "holds: 1 cases" in made.output
    checked = CliRunner().invoke(main, ["backup", "check", str(path)])
    assert checked.exit_code == 0 and "ok: " in checked.output
    again = CliRunner().invoke(main, ["backup", "make", str(path)])
    assert again.exit_code == 1 and "exists: a backup never overwrites" in again.output
    assert PG_SERVER is None or path.suffix == ".pgdump"


def test_a_failed_tools_message_is_its_error_line_not_the_detail_after_it():
    stderr = ("pg_dump: error: query failed: ERROR:  invalid snapshot identifier: \"0-1\"\n"
              "pg_dump: detail: Query was: SET TRANSACTION SNAPSHOT '0-1'\n")
    assert backup._last_line(stderr) == (
        'pg_dump: error: query failed: ERROR:  invalid snapshot identifier: "0-1"')
    assert backup._last_line("pg_restore: warning: x\nsomething else\n") == "something else"
    assert backup._last_line("") == "no message"


def test_pg_dump_and_pg_restore_get_the_apps_bounds_on_a_silent_network(app):
    found = backup._conninfo(make_url(
        "postgresql+psycopg://caseflow:secret@db.example.edu/caseflow?connect_timeout=9"))
    assert "password" not in found and "secret" not in found
    for part in ("host=db.example.edu", "connect_timeout=9", "keepalives=1",
                 "keepalives_idle=10", "tcp_user_timeout=10000"):
        assert part in found.split(), found
