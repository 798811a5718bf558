"""One-time submission tokens, so a double click or a retried POST does not act twice.

Each task form carries a fresh random token. The submission that completes the task stores
the token with its outcome (the task and where the answer sent the user) in the same
transaction as the completion; a second submission with the same token gets that outcome
back instead of an error. Tokens are kept for a day, then purged by the worker.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from caseflow import clock
from caseflow.db import db
from caseflow.models import SubmissionToken

KEEP = timedelta(days=1)
_PURGE_EVERY = timedelta(minutes=10)
_last_purge: datetime | None = None


@dataclass(frozen=True)
class Prior:
    """What the first submission with a token did."""

    task_id: int
    next_task_id: int | None


def new_token() -> str:
    """Return a fresh one-time token for a form."""
    return secrets.token_urlsafe(24)


def usable(token: str | None) -> str | None:
    """Return the token if it looks like one of ours, else None (ignore junk input)."""
    if token and 16 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return None


def find(token: str, user_id: int) -> Prior | None:
    """Return the outcome of this user's earlier submission with `token`, if any."""
    t = SubmissionToken.__table__
    row = db.session.connection().execute(
        select(t.c.task_id, t.c.next_task_id)
        .where(t.c.token == token, t.c.user_id == user_id,
               t.c.created_at >= clock.now() - KEEP)).first()
    return Prior(row.task_id, row.next_task_id) if row else None


def remember(token: str, user_id: int, task_id: int, next_task_id: int | None) -> None:
    """Store a token's outcome in the current transaction (the caller commits)."""
    db.session.add(SubmissionToken(token=token, user_id=user_id, task_id=task_id,
                                   next_task_id=next_task_id, created_at=clock.now()))


def purge(now: datetime | None = None, force: bool = False) -> int:
    """Delete tokens older than a day (at most every ten minutes); return how many, committed."""
    global _last_purge
    now = now or clock.now()
    if not force and _last_purge is not None and now - _last_purge < _PURGE_EVERY:
        return 0
    _last_purge = now
    t = SubmissionToken.__table__
    gone = db.session.connection().execute(delete(t).where(t.c.created_at < now - KEEP)).rowcount
    db.session.commit()
    return int(gone or 0)
