"""The one clock caseflow reads: real time, or a simulated time in tests and the demo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_pinned: ContextVar[datetime | None] = ContextVar("caseflow_clock_pinned", default=None)


def now() -> datetime:
    """Return the current time in UTC (timezone-aware)."""
    pinned = _pinned.get()
    if pinned is not None:
        return pinned
    return datetime.now(UTC) + _offset


def real() -> datetime:
    """Return this host's own clock in UTC: never simulated, to compare with another
    machine's clock."""
    return datetime.now(UTC)


def advance(delta: timedelta) -> datetime:
    """Move simulated time forward for the whole process and return the new now."""
    global _offset
    _offset += delta
    return now()


def reset() -> None:
    """Go back to real time."""
    global _offset
    _offset = timedelta(0)


@contextmanager
def pinned(at: datetime) -> Iterator[datetime]:
    """Read `at` as the current time inside the block (this thread / task only)."""
    if at.tzinfo is None:
        raise ValueError("pinned() needs a timezone-aware datetime")
    token = _pinned.set(at.astimezone(UTC))
    try:
        yield at
    finally:
        _pinned.reset(token)
