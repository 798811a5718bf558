"""How far this host's clock is from the database server's.

Timers are due by the clock of the app server that set them and fire by the clock of the
worker that finds them due: with several hosts on one PostgreSQL server, a host whose clock
has drifted makes escalations fire late or early by as much, and leases run out early. On
SQLite every process shares one host and so one clock.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from caseflow import clock
from caseflow.db import db

MAX_SKEW = timedelta(seconds=2)  # timers must fire within 5 s of due: keep well inside it


def measure() -> timedelta | None:
    """Return the database server's clock less this host's, from the middle of one round
    trip (None on SQLite: one host, one clock)."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return None
    before = clock.real()
    theirs = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    after = clock.real()
    return theirs - (before + (after - before) / 2)


def too_far(skew: timedelta | None) -> bool:
    """Return whether a measured skew is more than timers can bear."""
    return skew is not None and abs(skew) > MAX_SKEW


def describe(skew: timedelta, whose: str) -> str:
    """Say, in words, how far `whose` clock is from the database server's and what to do."""
    seconds = abs(skew.total_seconds())
    way = "behind" if skew > timedelta(0) else "ahead of"
    return (f"{whose} clock is {seconds:.1f} s {way} the database server's (more than "
            f"{MAX_SKEW.total_seconds():g} s): timers fire late or early by as much; keep every "
            "server's clock synchronised (NTP: systemd-timesyncd or chrony)")


def seconds(skew: timedelta | None) -> float | None:
    """Return a skew as seconds for a report (None stays None)."""
    return None if skew is None else round(skew.total_seconds(), 3)
