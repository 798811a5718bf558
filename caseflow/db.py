"""The SQLAlchemy handle, per-connection settings for SQLite, and prepared statements kept
on PostgreSQL."""

from __future__ import annotations

import re
import weakref
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Engine
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


# -- PostgreSQL: how long to wait for a lock, and how long a transaction may sit idle ----

def set_timeouts(engine: Engine, lock_seconds: int, idle_in_transaction_seconds: int,
                 statement_seconds: int = 0) -> None:
    """Give every new PostgreSQL connection of `engine` its timeouts (0: none).

    A statement that waits longer than `lock_seconds` for a lock, or runs longer than
    `statement_seconds`, fails (the person gets the "try again" page, the worker backs
    off), and PostgreSQL ends a session that sat idle inside a transaction longer than
    `idle_in_transaction_seconds`, releasing its locks.
    """
    if engine.dialect.name != "postgresql":
        return

    def timeouts(dbapi_connection: Any, connection_record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(lock_seconds) * 1000}")
            cursor.execute("SET idle_in_transaction_session_timeout = "
                           f"{int(idle_in_transaction_seconds) * 1000}")
            cursor.execute(f"SET statement_timeout = {int(statement_seconds) * 1000}")
        dbapi_connection.commit()  # SET outside a transaction block: it lasts the session

    event.listen(engine, "connect", timeouts)


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
