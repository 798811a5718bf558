"""Each timer worker's sign of life: noted every half minute, read by the health check.

Without it a stopped worker showed only once a timer was overdue; a school with no timer
waiting, or a screening round due to start, learned of it late or not at all.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update

from caseflow.db import db
from caseflow.models import WorkerBeat
from caseflow.services import skew

log = logging.getLogger(__name__)

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
        self.fired, self.last, self.skewed = 0, None, False

    def note(self, fired: int, now: datetime) -> None:
        """Count the timers fired since the last note; write the beat if the last one written
        is half a minute old."""
        self.fired += fired
        if self.last is not None and now - self.last < BEAT_EVERY:
            return
        t = WorkerBeat.__table__
        conn = db.session.connection()
        values = {"beat_at": now, "fired": self.fired, "clock_skew_ms": self._skew_ms()}
        if not conn.execute(update(t).where(t.c.worker == self.name).values(values)).rowcount:
            conn.execute(insert(t).values(worker=self.name, started_at=self.started_at,
                                          **values))
        conn.execute(delete(t).where(t.c.beat_at < now - KEEP))
        db.session.commit()
        self.last = now


    def _skew_ms(self) -> int | None:
        """Measure this worker's clock against the database's; log when it goes too far
        (the log names this host, which the health check does not)."""
        found = skew.measure()
        if skew.too_far(found) != self.skewed:
            self.skewed = not self.skewed
            if self.skewed:
                log.warning("timer worker %s: %s", self.name, skew.describe(found, "this host's"))
            else:
                log.info("timer worker %s: this host's clock is in step with the database "
                         "server's again", self.name)
        return None if found is None else round(found.total_seconds() * 1000)


@dataclass
class Seen:
    """What the workers' signs of life say: when one was last seen (None: never), how many
    were seen lately, and the skew of the running one whose clock is farthest off."""

    at: datetime | None
    running: int
    worst_skew: timedelta | None


def latest(now: datetime, within: timedelta) -> Seen:
    """Return what the workers' signs of life say, counting those seen `within`.

    Each beat is read by the database server's clock (its time plus the worker's skew), so
    a worker whose clock is behind shows as running with its skew, not as gone.
    """
    t = WorkerBeat.__table__
    beats = [(_aware(at) + timedelta(milliseconds=ms or 0), ms) for at, ms in
             db.session.connection().execute(select(t.c.beat_at, t.c.clock_skew_ms))]
    running = [ms for at, ms in beats if at >= now - within]
    worst = max((ms for ms in running if ms is not None), key=abs, default=None)
    return Seen(max((at for at, _ in beats), default=None), len(running),
                None if worst is None else timedelta(milliseconds=worst))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
