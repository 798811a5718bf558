"""PostgreSQL set to wait for a synchronous standby that is not there: refuse writes early.

With `synchronous_standby_names` set (README: "never lost"), the primary holds each
writing COMMIT until enough standbys confirm it. While they are missing, a commit waits for
ever: no statement timeout ends it, a person's request is killed by gunicorn after its
--timeout, and the server session waits on after its client has gone, holding its
connection and the case's row locks, one more with every retry, until the connections run
out for reads as well. So a writing commit is refused instead ("try again", and the worker
backs off), with the reason, while the last look (at most EVERY seconds old) found too few
standbys; reads go on. The health checks say the same.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

EVERY = 5.0  # seconds a look at the standbys stays good for, per process

FIX = ("start the standby, or let the primary commit alone (ALTER SYSTEM SET "
       "synchronous_standby_names = ''; SELECT pg_reload_conf())")
_NUMBER = re.compile(r"^\s*(?:(?:FIRST|ANY)\s+)?(\d+)\s*\(", re.IGNORECASE)
_LOOK = """SELECT current_setting('synchronous_commit'),
       current_setting('synchronous_standby_names'), pg_is_in_recovery(),
       (SELECT count(*) FROM pg_stat_replication
         WHERE coalesce(state, 'streaming') = 'streaming'
           AND coalesce(sync_state, 'sync') IN ('sync', 'quorum'))"""


class StandbyMissing(Exception):
    """A writing commit refused: it would wait for a synchronous standby that is missing."""


@dataclass(frozen=True)
class Standbys:
    """How many synchronous standbys each commit waits for, and how many are connected."""

    needed: int
    connected: int

    @property
    def commits_wait(self) -> bool:
        """Return whether a writing commit would wait until more standbys connect."""
        return self.connected < self.needed

    def describe(self) -> str:
        """Say what is wrong, and what to do, in words (no host or standby names)."""
        return (f"{self._why()}: caseflow saves nothing until then (people are asked to try "
                f"again, timers wait); {FIX}")

    def refusal(self) -> str:
        """Say why a commit was refused."""
        return f"nothing was saved: {self._why()}; {FIX}"

    def _why(self) -> str:
        have = "none is" if not self.connected else f"only {self.connected} {_is(self.connected)}"
        wanted = ("a synchronous standby confirms" if self.needed == 1 else
                  f"{self.needed} synchronous standbys confirm")
        return (f"PostgreSQL holds each commit until {wanted} it (synchronous_standby_names), "
                f"and {have} connected")


def _is(n: int) -> str:
    return "is" if n == 1 else "are"


def needed(names: str) -> int:
    """Return how many standbys `synchronous_standby_names` makes a commit wait for."""
    if not names.strip():
        return 0
    found = _NUMBER.match(names)
    return int(found.group(1)) if found else 1  # "a, b" and "*" ask for one


def look(dbapi_connection: Any) -> Standbys:
    """Read the standbys this PostgreSQL session's commits wait for (one statement).

    A role without pg_read_all_stats sees each standby's row but not its state, and then
    every connected standby counts (an asynchronous one too).
    """
    with dbapi_connection.cursor() as cursor:
        cursor.execute(_LOOK)
        commit, names, in_recovery, connected = cursor.fetchone()
    if in_recovery or commit in ("off", "local"):
        return Standbys(0, int(connected))  # a standby takes no writes; or nobody waits
    return Standbys(needed(names), int(connected))


def refuse_commits_that_would_wait(engine: Engine) -> None:
    """Refuse (OperationalError) a writing commit while the standbys it would wait for are
    missing, as last seen at most EVERY seconds ago by this process."""
    if engine.dialect.name != "postgresql":
        return
    lock = threading.Lock()
    seen: dict[str, Any] = {"at": float("-inf"), "standbys": Standbys(0, 0)}

    def before_commit(conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        now = time.monotonic()
        with lock:
            standbys, stale = seen["standbys"], now - seen["at"] >= EVERY
        try:
            if stale:
                standbys = look(raw)
                with lock:
                    seen.update(at=now, standbys=standbys)
            wrote = standbys.commits_wait and _wrote(raw)
        except psycopg.Error as exc:  # as SQLAlchemy's own statements fail: "try again"
            raise DBAPIError.instance(_LOOK, None, exc, psycopg.Error) from exc
        if wrote:
            raise OperationalError("COMMIT", None, StandbyMissing(standbys.refusal()))

    event.listen(engine, "commit", before_commit)


def _wrote(dbapi_connection: Any) -> bool:
    """Return whether this transaction wrote (only one with a transaction id waits)."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT txid_current_if_assigned()")
        return cursor.fetchone()[0] is not None
