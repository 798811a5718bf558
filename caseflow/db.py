"""The SQLAlchemy handle, per-connection settings for SQLite, and prepared statements kept
on PostgreSQL."""

from __future__ import annotations

import fcntl
import re
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import IO, Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Give every SQLite connection WAL, durable commits and foreign keys."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# -- PostgreSQL: how long to wait for a lock, an idle transaction, a silent network ------

def set_timeouts(engine: Engine, lock_seconds: int, idle_in_transaction_seconds: int,
                 statement_seconds: int = 0, *, connect_seconds: int = 0,
                 network_seconds: int = 0) -> None:
    """Give every new PostgreSQL connection of `engine` its timeouts (0: none).

    A statement that waits longer than `lock_seconds` for a lock, or runs longer than
    `statement_seconds`, fails (the person gets the "try again" page, the worker backs
    off), and PostgreSQL ends a session that sat idle inside a transaction longer than
    `idle_in_transaction_seconds`, releasing its locks. The network ones are in
    `network_parameters`.
    """
    if engine.dialect.name != "postgresql":
        return

    def timeouts(dbapi_connection: Any, connection_record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(lock_seconds) * 1000}")
            cursor.execute("SET idle_in_transaction_session_timeout = "
                           f"{int(idle_in_transaction_seconds) * 1000}")
            cursor.execute(f"SET statement_timeout = {int(statement_seconds) * 1000}")
            if network_seconds and dbapi_connection.info.hostaddr:  # TCP, not a socket
                for name, value in _server_keepalives(network_seconds).items():
                    cursor.execute(f"SET {name} = {value}")
        dbapi_connection.commit()  # SET outside a transaction block: it lasts the session

    def parameters(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        for name, value in network_parameters(connect_seconds, network_seconds).items():
            cparams.setdefault(name, value)  # the URL's own libpq parameters win

    event.listen(engine, "do_connect", parameters)
    event.listen(engine, "connect", timeouts)


def network_parameters(connect_seconds: int, network_seconds: int) -> dict[str, int]:
    """Return the libpq parameters that end a wait on a database host gone silent.

    Without them a network cut to another host (no reset, packets lost) holds a request
    or the worker for minutes: libpq waits for a new connection as long as the kernel
    retries (about 2 minutes) and for an answer on an open one for about 15 minutes. Sent
    data not acknowledged within `network_seconds` (`tcp_user_timeout`), or keepalive
    probes of an idle connection unanswered as long, end the connection with an error; a
    slow query is not cut, since the server's host acknowledges it. Unix sockets ignore
    all but `connect_timeout`.
    """
    found: dict[str, int] = {}
    if connect_seconds:
        found["connect_timeout"] = connect_seconds
    if network_seconds:
        found.update(keepalives=1, **_silence_bound(network_seconds))
    return found


def _server_keepalives(network_seconds: int) -> dict[str, int]:
    """Return the server's side of the same (its settings are named tcp_keepalives_*): a
    backend whose client vanished mid-transaction (its host cut off) ends within
    `network_seconds` of silence, releasing the rows it locked, instead of holding them
    until the idle-in-transaction timeout."""
    return {name if name.startswith("tcp_") else f"tcp_{name}": value
            for name, value in _silence_bound(network_seconds).items()}


def _silence_bound(seconds: int) -> dict[str, int]:
    return {"keepalives_idle": seconds, "keepalives_interval": max(1, seconds // 3),
            "keepalives_count": 3, "tcp_user_timeout": seconds * 1000}


# -- PostgreSQL: keep prepared statements across read-only requests -----------------------

# the DBAPI connections whose running transaction has only read so far
_READ_ONLY: weakref.WeakSet[Any] = weakref.WeakSet()
_SELECT = re.compile(r"\s*SELECT\s", re.IGNORECASE)
_LOCKS = re.compile(r"\sFOR\s+(UPDATE|SHARE|NO\s+KEY|KEY\s+SHARE)\b", re.IGNORECASE)


def keep_prepared_statements(engine: Engine) -> None:
    """End a PostgreSQL transaction that only read with COMMIT instead of ROLLBACK.

    psycopg prepares a statement once it has run five times on a connection, and drops
    every prepared statement on any ROLLBACK. A page that only reads ends its transaction
    with a rollback, so without this nothing stayed prepared and PostgreSQL parsed and
    planned every statement of every request: half of its time on the inbox and task pages.
    For a transaction that ran nothing but plain SELECTs (no row locks) a commit has the
    same outcome as a rollback. Anything else, or a transaction in error, is rolled back.
    """
    if engine.dialect.name != "postgresql":
        return
    from psycopg.pq import TransactionStatus

    dialect = engine.dialect
    rollback = type(dialect).do_rollback

    def do_rollback(connection: Any) -> None:
        raw = connection.dbapi_connection
        only_read = raw in _READ_ONLY
        _READ_ONLY.discard(raw)
        if only_read and raw.info.transaction_status == TransactionStatus.INTRANS:
            raw.commit()
        else:
            rollback(dialect, connection)

    def begins(conn: Connection) -> None:
        _READ_ONLY.add(conn.connection.dbapi_connection)

    def commits(conn: Connection) -> None:
        _READ_ONLY.discard(conn.connection.dbapi_connection)

    def executes(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        # anything but one plain SELECT (a write, SET, a CTE, a lock, several statements)
        if (not _SELECT.match(statement) or _LOCKS.search(statement)
                or ";" in statement.rstrip().rstrip(";")):
            _READ_ONLY.discard(conn.connection.dbapi_connection)

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    event.listen(engine, "begin", begins)
    event.listen(engine, "commit", commits)
    event.listen(engine, "before_cursor_execute", executes)


# -- one holder at a time, across processes and hosts ----------------------------------

def held(engine: Engine, name: str, waiting: Callable[[], None], poll: float = 0.2
         ) -> AbstractContextManager[None]:
    """Hold the lock `name` of this database for a block; call `waiting` once first if
    another process holds it, and wait for it.

    On PostgreSQL this is a session advisory lock on a connection of its own (autocommit,
    so no timeout ends it while the block runs; a holder that dies releases it with its
    connection); on a SQLite file, an exclusive flock on a file beside it.
    """
    if engine.dialect.name == "postgresql":
        return _advisory_lock(engine, zlib.crc32(f"caseflow:{name}".encode()), waiting, poll)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return nullcontext()  # no file another process could open
    try:
        handle = open(Path(f"{database}-{name}.lock"), "a")  # noqa: SIM115
    except OSError:
        return nullcontext()  # a folder SQLite cannot write in: opening the database says why
    return _file_lock(handle, waiting)


@contextmanager
def _file_lock(handle: IO[str], waiting: Callable[[], None]) -> Iterator[None]:
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


@contextmanager
def _advisory_lock(engine: Engine, key: int, waiting: Callable[[], None], poll: float
                   ) -> Iterator[None]:
    # polled with pg_try_advisory_lock: a blocking pg_advisory_lock would fail after the
    # connection's lock_timeout, and a setup may legitimately take longer than that
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        told = False
        while not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
            if not told:
                waiting()
                told = True
            time.sleep(poll)
        try:
            yield
        finally:
            with suppress(DBAPIError):  # a lost connection has released the lock already
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
