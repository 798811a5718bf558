"""Copy the whole database to one file while caseflow runs, and check such a copy.

SQLite: the online backup API copies what was committed when it began (a write still in
progress is not in the copy, and nobody has to stop). PostgreSQL: `pg_dump` in its custom
format, on a snapshot this module opens first, so the figures it reports (audit events,
cases) are exactly those in the file. Either copy is written under a temporary name beside
the target, checked, and only then given its name: a failed backup leaves nothing that
looks like one, and an existing file is never overwritten.

A copy holds every student's personal data: only its owner may read the file, and making
one is an audit event.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import AuditHead, Case
from caseflow.services import ServiceError
from caseflow.services.health import code_revisions

SQLITE, POSTGRES = "sqlite", "postgresql"
# a copy made into a folder is named caseflow-<STAMP>.<SUFFIX> (backup_prune reads the names)
SUFFIX = {SQLITE: "sqlite3", POSTGRES: "pgdump"}
STAMP = "%Y%m%dT%H%M%SZ"


class BackupRefused(ServiceError):
    """The backup or the check cannot be done; the message says why and what to do."""


@dataclass
class Backup:
    """A finished copy: where it is, what it holds, and its fingerprint."""

    path: Path
    kind: str
    size: int
    sha256: str
    audit_seq: int
    cases: int


@dataclass
class Checked:
    """What a check of a copy found; `problems` is empty when the copy is sound."""

    path: Path
    kind: str
    audit_seq: int | None = None
    cases: int | None = None
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def make(dest: Path, actor: audit.Actor) -> Backup:
    """Copy the database to `dest` (a new file, or a folder to put a dated file in)."""
    url = db.engine.url
    kind = _kind(url)
    target = _target(dest, kind)
    partial = _private_file(target.with_name(f".{target.name}.partial"))
    try:
        seq, cases = _copy_sqlite(url, partial) if kind == SQLITE else _dump(url, partial)
        _fsync(partial)
        _claim(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    made = Backup(target, kind, target.stat().st_size, _sha256(target), seq, cases)
    try:
        audit.record("backup_made", actor, detail={
            "file": target.name, "kind": kind, "bytes": made.size, "sha256": made.sha256,
            "audit_seq": seq, "cases": cases})
        db.session.commit()
    except BaseException:
        # a copy of every student's data must not exist without its audit event
        db.session.rollback()
        target.unlink(missing_ok=True)
        raise
    return made


def check(path: Path, restore_into: str | None = None) -> Checked:
    """Check a copy made by `make`: readable, whole, at a known schema, audit chain intact.

    A pg_dump archive is read in place; its audit chain is walked only when it is restored
    into `restore_into`, the URL of an empty PostgreSQL database (left there afterwards).
    """
    if not path.is_file():
        raise BackupRefused(f"{path}: no such file")
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SQLite format 3"):
        if restore_into:
            raise BackupRefused("an SQLite copy is checked in place: restoring into a "
                                "database is for pg_dump archives")
        return _check_sqlite(path)
    if head.startswith(b"PGDMP"):
        result = _check_dump(path)
        if restore_into and not result.problems:
            _check_restored(path, make_url(restore_into), result)
        return result
    raise BackupRefused(f"{path}: neither an SQLite database nor a pg_dump archive")


# -- where the copy goes -----------------------------------------------------------------

def _kind(url: URL) -> str:
    if url.get_backend_name() == SQLITE:
        if url.database in (None, "", ":memory:"):
            raise BackupRefused("the database is in memory: there is no file to copy")
        return SQLITE
    if url.get_backend_name() == POSTGRES:
        return POSTGRES
    raise BackupRefused(f"cannot back up a {url.get_backend_name()} database")


def _target(dest: Path, kind: str) -> Path:
    if dest.is_dir():
        dest = dest / f"caseflow-{clock.now().strftime(STAMP)}.{SUFFIX[kind]}"
    if dest.exists():
        raise _taken(dest)
    if not dest.parent.is_dir():
        raise BackupRefused(f"{dest.parent}: no such folder")
    return dest


def _private_file(path: Path) -> Path:
    """Create `path` empty, readable by this user only: the copy holds personal data."""
    path.unlink(missing_ok=True)  # what a killed backup left (never a finished copy)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def _claim(partial: Path, target: Path) -> None:
    """Give the finished copy its name, unless something took the name meanwhile."""
    try:
        os.link(partial, target)  # fails rather than replace an existing file
    except FileExistsError:
        raise _taken(target) from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise _taken(target) from None
        os.replace(partial, target)
    _fsync(target.parent)


def _taken(path: Path) -> BackupRefused:
    return BackupRefused(f"{path} exists: a backup never overwrites a file")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- SQLite ------------------------------------------------------------------------------

def _copy_sqlite(url: URL, partial: Path) -> tuple[int, int]:
    source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # one step: one read snapshot of the whole file
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
        problem = copy.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupRefused(f"the copy failed SQLite's check: {problem}")
        return _sqlite_figures(copy)
    finally:
        copy.close()
        source.close()


def _sqlite_figures(conn: sqlite3.Connection) -> tuple[int, int]:
    row = conn.execute(f"SELECT seq FROM {AuditHead.__tablename__} WHERE id = 1").fetchone()
    cases = conn.execute(f"SELECT count(*) FROM {Case.__tablename__}").fetchone()[0]
    return (row[0] if row else 0), cases


def _check_sqlite(path: Path) -> Checked:
    result = Checked(path, SQLITE)
    with tempfile.TemporaryDirectory(prefix="caseflow-check-") as scratch:
        # work on a scratch copy: opening a database may write to it (WAL, -shm files)
        work = Path(scratch) / "copy.sqlite3"
        shutil.copyfile(path, work)
        conn = sqlite3.connect(work)
        try:
            state = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if state != "ok":
            result.problems.append(f"SQLite's integrity check failed: {state}")
            return result
        result.facts.append("SQLite integrity check: ok")
        _check_database(make_url(f"sqlite:///{work}"), result)
    return result


# -- PostgreSQL --------------------------------------------------------------------------

def _dump(url: URL, partial: Path) -> tuple[int, int]:
    with _snapshot() as (conn, snapshot):
        seq, cases = _figures(conn)
        try:
            done = _pg_tool("pg_dump", "--format=custom", f"--snapshot={snapshot}",
                            f"--file={partial}", url=url, on=conn)
        except BaseException:  # stopped: gone before the snapshot ends, which a hung
            partial.unlink(missing_ok=True)  # server may never let happen
            raise
    if done.returncode != 0:
        raise BackupRefused(f"pg_dump failed: {_last_line(done.stderr)}")
    _list_dump(partial)
    return seq, cases


@contextmanager
def _snapshot() -> Iterator[tuple[Connection, str]]:
    """Hold a repeatable-read snapshot open and give its id, for pg_dump to share."""
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            # idle while pg_dump runs, for minutes on a big school: not a stuck session
            conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            yield conn, snapshot


def _figures(conn: Connection) -> tuple[int, int]:
    seq = conn.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar()
    cases = conn.execute(select(func.count()).select_from(Case)).scalar_one()
    return seq or 0, cases


def _pg_tool(name: str, *args: str, url: URL | None = None, on: Connection | None = None
             ) -> subprocess.CompletedProcess:
    """Run pg_dump or pg_restore, on the database at `url` if given (on the very server the
    connection `on` is on, if given); never raise for its exit.

    The password goes in PGPASSWORD, not on the command line where `ps` shows it.
    """
    found = shutil.which(name)
    if found is None:
        raise BackupRefused(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    env, command = dict(os.environ), [found, *args]
    if url is not None:
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        command.append(f"--dbname={_conninfo(url, on)}")
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def _conninfo(url: URL, on: Connection | None = None) -> str:
    """Return the libpq connection string psycopg connects to `url` with, without the
    password, and with the app's bounds on a silent network (unless the URL sets its own).
    Several hosts (`?host=a&host=b`) become libpq's lists; with `on`, the one host that
    connection reached, so pg_dump reads the snapshot on the server that made it.
    """
    from psycopg.conninfo import make_conninfo

    from caseflow.db import network_parameters

    _, given = url.get_dialect()().create_connect_args(url)
    params = {key: value for key, value in given.items()
              if isinstance(value, str | int) and key != "password"}
    bounds = network_parameters(current_app.config["DB_CONNECT_TIMEOUT_SECONDS"],
                                current_app.config["DB_NETWORK_TIMEOUT_SECONDS"])
    params = {**bounds, **params}
    if on is not None:
        info = on.connection.dbapi_connection.info
        params.update(host=info.host, port=str(info.port))
        params.pop("hostaddr", None)
    return make_conninfo("", **params)


def _list_dump(path: Path) -> list[str]:
    done = _pg_tool("pg_restore", "--list", str(path))
    if done.returncode != 0:
        raise BackupRefused(f"pg_restore cannot read {path.name}: {_last_line(done.stderr)}")
    return [line for line in done.stdout.splitlines() if line and not line.startswith(";")]


def _check_dump(path: Path) -> Checked:
    result = Checked(path, POSTGRES)
    try:
        entries = _list_dump(path)
    except BackupRefused as exc:
        result.problems.append(str(exc))
        return result
    result.facts.append(f"pg_restore reads it: {len(entries)} entries")
    for table in (AuditHead.__tablename__, "audit_event", Case.__tablename__,
                  "workflow_instance", "alembic_version"):
        if not any(f"TABLE DATA public {table} " in line for line in entries):
            result.problems.append(f"the archive holds no data of the table {table}")
    return result


def _check_restored(path: Path, url: URL, result: Checked) -> None:
    """Restore the archive into the empty database at `url` and check what it holds."""
    if url.get_backend_name() != POSTGRES:
        raise BackupRefused("a pg_dump archive is restored into a PostgreSQL database")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT count(*) FROM pg_tables "
                                       "WHERE schemaname = 'public'")).scalar_one()
    finally:
        engine.dispose()
    if tables:
        raise BackupRefused(f"database {url.database} is not empty ({tables} tables): "
                            "the check restores only into an empty database")
    done = _pg_tool("pg_restore", "--no-owner", "--exit-on-error", str(path), url=url)
    if done.returncode != 0:
        result.problems.append(f"pg_restore failed: {_last_line(done.stderr)}")
        return
    result.facts.append(f"restored into database {url.database}")
    _check_database(url, result)


def _last_line(stderr: str) -> str:
    """Return the tool's last error line (its "detail:" lines come after it), else its last."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if " error: " in line or "FATAL:" in line]
    return (errors or lines or ["no message"])[-1]


# -- what any copy must hold -------------------------------------------------------------

def _check_database(url: URL, result: Checked) -> None:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            _check_contents(session, result)
    finally:
        engine.dispose()


def _check_contents(session: Session, result: Checked) -> None:
    conn = session.connection()
    if not inspect(conn).has_table("alembic_version"):
        result.problems.append("not a caseflow database: it has no migration record")
        return
    current = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    heads, known = code_revisions()
    if current == set(heads):
        result.facts.append(f"schema: at migration {', '.join(sorted(current))}, as this code")
    elif current <= known:
        result.facts.append(f"schema: at migration {', '.join(sorted(current))}, older than "
                            "this code (`caseflow init-db` upgrades it after a restore)")
    else:
        result.problems.append(f"schema: at migration {', '.join(sorted(current))}, which "
                               "this code does not know")
        return
    key = current_app.config["AUDIT_KEY"].encode()
    verdict = audit.verify(session, key)
    (result.facts if verdict.ok else result.problems).append(f"audit chain: {verdict.message}")
    seq, cases = _figures(conn)
    result.audit_seq, result.cases = seq, cases


def size_text(size: int) -> str:
    """Return a byte count in words ("1.2 MB")."""
    value = float(size)
    for unit in ("bytes", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
