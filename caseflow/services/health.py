"""Say whether this caseflow can do its work: database (reachable, and taking writes),
schema, escalations on time, a timer worker alive, clocks in step with PostgreSQL's,
connections to spare, and (if asked) a recent backup.

For a monitor or systemd: `GET /healthz` and `caseflow health` ask the same questions.
For a load balancer: `GET /readyz` and `caseflow health --ready` ask only whether this app
process can serve pages (database and schema): a late escalation or an old backup is the
whole school's problem, and taking every app server out of the balancer would not fix it.
The answers carry counts and ages only, never personal data or where the database is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from caseflow import clock, syncstandby
from caseflow.db import db
from caseflow.dbcheck import allowed_connections
from caseflow.models import AuditEvent, TimerRow
from caseflow.services import beats, skew
from caseflow.services.setup import MIGRATIONS

log = logging.getLogger(__name__)


@dataclass
class Health:
    """The answers of one check; `problems` says, in words, what is wrong."""

    database: str = "ok"  # else "unreachable", "read-only" or "writes-wait" (a standby)
    schema: str = "unknown"  # until read; "ok", "behind", "newer" or "empty" once it is
    overdue_timers: int | None = None  # None: not counted (the database or schema failed)
    oldest_overdue_seconds: int | None = None
    last_backup_at: datetime | None = None  # the last `caseflow backup make`, if any
    workers_running: int | None = None  # timer workers seen within the grace
    worker_seen_at: datetime | None = None  # the last sign of life of any timer worker
    worker_clock_skew: timedelta | None = None  # the running worker's farthest off
    clock_skew: timedelta | None = None  # the database's clock less this host's (PostgreSQL)
    connections: tuple[int, int] | None = None  # PostgreSQL: (in use, allowed)
    checked_at: datetime | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def backup_age_seconds(self) -> int | None:
        """Return how long ago the last backup was made (None: never, or not read)."""
        if self.last_backup_at is None or self.checked_at is None:
            return None
        return int((self.checked_at - self.last_backup_at).total_seconds())

    @property
    def ok(self) -> bool:
        """Return whether nothing is wrong."""
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """Return the answers as JSON-ready values."""
        return {"status": "ok" if self.ok else "failing", "database": self.database,
                "schema": self.schema, "timers": {
                    "overdue": self.overdue_timers,
                    "oldest_overdue_seconds": self.oldest_overdue_seconds},
                "workers": {"running": self.workers_running,
                            "last_seen_at": _iso(self.worker_seen_at),
                            "clock_skew_seconds": skew.seconds(self.worker_clock_skew)},
                "clock": {"skew_seconds": skew.seconds(self.clock_skew)},
                "connections": {"used": self.connections and self.connections[0],
                                "allowed": self.connections and self.connections[1]},
                "backup": {"last_at": _iso(self.last_backup_at),
                           "age_seconds": self.backup_age_seconds},
                "checked_at": _iso(self.checked_at),
                "problems": self.problems}

    def readiness_dict(self) -> dict[str, object]:
        """Return the answers of a `ready_only` check (no timers, no backup)."""
        return {"status": "ok" if self.ok else "failing", "database": self.database,
                "schema": self.schema, "checked_at": _iso(self.checked_at),
                "problems": self.problems}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def grace() -> timedelta:
    """Return how late a due timer may be before the check fails."""
    return timedelta(seconds=current_app.config["HEALTH_TIMER_GRACE_SECONDS"])


def check(now: datetime | None = None, ready_only: bool = False) -> Health:
    """Check the database, the schema's migration, the timers and (if asked) the backups.

    With `ready_only`, check the database and the schema only (for a load balancer).
    Changes nothing.

    Ends the session's transaction: call it on its own, not inside a unit of work.
    """
    now = now or clock.now()
    health = Health(checked_at=now)
    try:
        health.schema, problems = schema_state()
        health.problems += problems
        _check_writable(health)
        if health.schema == "ok" and not ready_only:
            _check_clock(health)
            _check_connections(health)
            _check_timers(health, now)
            _check_workers(health, now)
            _check_backup(health)
    except DBAPIError as exc:
        # the detail (host, port, user) is for the log, not for whoever asks
        log.warning("health check: database error: %s", getattr(exc, "orig", exc))
        health.database = "unreachable"
        health.problems.append("the database cannot be reached or refused the check")
    finally:
        _end_read()
    return health


def schema_state() -> tuple[str, list[str]]:
    """Return the schema's state ("ok", "empty", "newer" or "behind") and its problems.

    Raises DBAPIError when the database cannot be reached.
    """
    conn = db.session.connection()
    current: set[str] = set()
    if inspect(conn).has_table("alembic_version"):
        current = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    heads, known = code_revisions()
    if current == set(heads):
        return "ok", []
    if not current:
        return "empty", ["the database has no caseflow schema: run `caseflow init-db`"]
    if current - known:
        return "newer", [f"the database is at migration {_names(current)}, which this code "
                         f"does not know (it expects {_names(heads)})"]
    return "behind", [f"the database is at migration {_names(current)}; this code needs "
                      f"{_names(heads)}: run `caseflow init-db`"]


def _check_timers(health: Health, now: datetime) -> None:
    from caseflow.services.timers import held as held_for_a_fix

    t = TimerRow.__table__
    held = func.count(t.c.id).filter(held_for_a_fix(now))
    count, oldest, failed = db.session.connection().execute(
        select(func.count(t.c.id), func.min(t.c.due_at), held)
        .where(t.c.state == "waiting", t.c.due_at < now - grace())).one()
    health.overdue_timers = int(count)
    if count:
        health.oldest_overdue_seconds = int((now - oldest).total_seconds())
        health.problems.append(
            f"{count} timers (escalations, waits) are overdue, the oldest by "
            f"{health.oldest_overdue_seconds} s: " + (
                "is `caseflow worker` running?" if not failed else
                f"{failed} of them wait for their process model to be fixed (audit events "
                "process_failed name the element); is `caseflow worker` running for the rest?"))


def _check_writable(health: Health) -> None:
    """Fail when PostgreSQL takes no writes: a standby (after a failover the URL may point
    at the old primary, now a replica) or default_transaction_read_only; or when its writes
    wait for a synchronous standby that is missing. Pages would open and every submission
    would fail."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return
    if conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on":
        standby = conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one()
        health.database = "read-only"
        health.problems.append(
            "the database takes no writes (" + ("a standby server" if standby else
                                                "default_transaction_read_only is on") +
            "): every submission would fail; point CASEFLOW_DATABASE_URL at the primary")
        return
    standbys = syncstandby.look(conn.connection.dbapi_connection)
    if standbys.commits_wait:
        health.database = "writes-wait"
        health.problems.append(standbys.describe())


CONNECTIONS_FULL = 0.9  # of what PostgreSQL allows: past it, the next app server is refused


def _check_connections(health: Health) -> None:
    """Fail when PostgreSQL's connections are nearly all taken: every app server, worker
    and backup of the province shares them, and the next to connect would be refused."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return
    used = int(conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                 "WHERE backend_type = 'client backend'")).scalar_one())
    allowed = allowed_connections(conn)
    health.connections = (used, allowed)
    if used >= allowed * CONNECTIONS_FULL:
        health.problems.append(
            f"{used} of the {allowed} connections PostgreSQL allows are in use: the next app "
            "server, worker or backup to connect may be refused; raise max_connections, or "
            "serve with fewer --workers or --threads")


def _check_clock(health: Health) -> None:
    health.clock_skew = skew.measure()
    if skew.too_far(health.clock_skew):
        health.problems.append(skew.describe(health.clock_skew, "this server's"))


def _check_workers(health: Health, now: datetime) -> None:
    seen = beats.latest(now, grace())
    health.worker_seen_at, health.workers_running = seen.at, seen.running
    health.worker_clock_skew = seen.worst_skew
    if skew.too_far(seen.worst_skew):
        health.problems.append(skew.describe(seen.worst_skew, "a timer worker's") +
                               " (the worker's log names its host)")
    if health.worker_seen_at is None:
        health.problems.append("no timer worker has run against this database: start "
                               "`caseflow worker`, or escalations never fire")
    elif not health.workers_running:
        silent = int((now - health.worker_seen_at).total_seconds())
        health.problems.append(f"no timer worker has been seen for {silent} s: is "
                               "`caseflow worker` running?")


def _check_backup(health: Health) -> None:
    at = db.session.scalar(select(func.max(AuditEvent.at))
                           .where(AuditEvent.event_type == "backup_made"))
    health.last_backup_at = at if at is None or at.tzinfo else at.replace(tzinfo=UTC)
    hours = current_app.config["HEALTH_BACKUP_MAX_AGE_HOURS"]
    if not hours:
        return
    age = health.backup_age_seconds
    if age is None:
        health.problems.append(f"no backup has been made (`caseflow backup make`); one is "
                               f"expected every {hours} h")
    elif age > hours * 3600:
        health.problems.append(f"the last backup was made {age // 3600} h ago, more than the "
                               f"{hours} h allowed: is the backup job running?")


def _names(revisions: Iterable[str]) -> str:
    return ", ".join(sorted(revisions))


@lru_cache(maxsize=1)
def code_revisions() -> tuple[tuple[str, ...], frozenset[str]]:
    """Return the newest migration(s) this code ships, and every migration it knows."""
    script = ScriptDirectory(str(MIGRATIONS))
    return tuple(script.get_heads()), frozenset(r.revision for r in script.walk_revisions())


def _end_read() -> None:
    try:
        db.session.rollback()
    except DBAPIError:  # the connection is gone: drop it, the pool reconnects next time
        db.session.remove()
