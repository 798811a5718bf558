"""Each timer worker's sign of life: noted every half minute, read by the health check.

Without it a stopped worker showed only once a timer was overdue; a school with no timer
waiting, or a screening round due to start, learned of it late or not at all.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update

from caseflow.db import db
from caseflow.models import WorkerBeat

BEAT_EVERY = timedelta(seconds=30)
KEEP = timedelta(days=7)  # a stopped worker's row, for a week, then it goes


def worker_name() -> str:
    """Return this process's name among the workers: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Beat:
    """Note, at most every half minute, that this worker is working (after each batch of
    timers and each round)."""

    def __init__(self, started_at: datetime, name: str | None = None) -> None:
        self.name, self.started_at = name or worker_name(), started_at
        self.fired, self.last = 0, None

    def note(self, fired: int, now: datetime) -> None:
        """Count the timers fired since the last note; write the beat if the last one written
        is half a minute old."""
        self.fired += fired
        if self.last is not None and now - self.last < BEAT_EVERY:
            return
        t = WorkerBeat.__table__
        conn = db.session.connection()
        if not conn.execute(update(t).where(t.c.worker == self.name)
                            .values(beat_at=now, fired=self.fired)).rowcount:
            conn.execute(insert(t).values(worker=self.name, started_at=self.started_at,
                                          beat_at=now, fired=self.fired))
        conn.execute(delete(t).where(t.c.beat_at < now - KEEP))
        db.session.commit()
        self.last = now


def latest(now: datetime, within: timedelta) -> tuple[datetime | None, int]:
    """Return when a worker was last seen (None: never), and how many were seen `within`."""
    t = WorkerBeat.__table__
    seen, running = db.session.connection().execute(
        select(func.max(t.c.beat_at), func.count(t.c.worker).filter(
            t.c.beat_at >= now - within))).one()
    if seen is not None and seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    return seen, int(running)
