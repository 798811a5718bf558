"""One-time submission tokens, so a double click or a retried POST does not act twice.

Each task form carries a fresh random token. The submission that completes the task stores
the token with its outcome (the task and where the answer sent the user) in the same
transaction as the completion; a second submission with the same token gets that outcome
back instead of an error. Forms that make something (a police warning, a registration) do
the same through `once`: the token is stored with the id of what was made. Tokens are kept
for a day, then purged by the worker.

API clients send an `Idempotency-Key` header instead: the first request claims the key
(`claim`, committed at once so a concurrent retry sees it), and a retry gets the first answer
back; a key used again for another request is refused. Keys are kept for a day too.

The answer is written in the same transaction as the work (`answer`, which the service calls
just before its commit), so a claim without an answer means the work did not commit: a
request that died after claiming (a killed worker) left nothing behind. Such a claim is
held for a lease (`LEASE`), then a retry takes it over and does the work. A request that
outlives its lease cannot commit after a takeover: its answer is written only while the
claim is still its own (same `created_at`), else its work is rolled back.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from caseflow import clock
from caseflow.db import db
from caseflow.models import ApiIdempotency, SubmissionToken
from caseflow.services import Conflict, ServiceError

T = TypeVar("T")
KEEP = timedelta(days=1)
_PURGE_EVERY = timedelta(minutes=10)
_last_purge: datetime | None = None


@dataclass(frozen=True)
class Prior:
    """What the first submission with a token did (a task form's, or `form`'s result)."""

    task_id: int | None
    next_task_id: int | None
    form: str = "task"
    result_id: int | None = None


class TokenUsed(Conflict):
    """The form's token was already used for another form, or by someone else."""

    code = "submission_token_used"


USED = "this form's one-time token was already used elsewhere: reload the page and submit again"


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
        select(t.c.task_id, t.c.next_task_id, t.c.form, t.c.result_id)
        .where(t.c.token == token, t.c.user_id == user_id,
               t.c.created_at >= clock.now() - KEEP)).first()
    return Prior(row.task_id, row.next_task_id, row.form, row.result_id) if row else None


def remember(token: str, user_id: int, task_id: int | None, next_task_id: int | None,
             form: str = "task", result_id: int | None = None) -> None:
    """Store a token's outcome in the current transaction (the caller commits)."""
    db.session.add(SubmissionToken(token=token, user_id=user_id, task_id=task_id,
                                   next_task_id=next_task_id, form=form, result_id=result_id,
                                   created_at=clock.now()))


def first_result(form: str, token: str | None, user_id: int) -> int | None:
    """Return the id of what this user's earlier submission of `form` with `token` made.

    Raises TokenUsed for a token first used on another form: it is never acted on.
    """
    token = usable(token)
    prior = find(token, user_id) if token else None
    if prior is None:
        return None
    if prior.form != form or prior.result_id is None:
        raise TokenUsed(USED)
    return prior.result_id


def once(form: str, token: str | None, user_id: int,
         work: Callable[[Callable[[T], None] | None], T],
         result_id: Callable[[T], int]) -> tuple[T | None, int | None]:
    """Do a form's work once per token: return (result, None), or (None, the first result's
    id) when the token was used before.

    `work(before_commit)` does and commits the unit of work; `before_commit` stores the
    token with it, so the token exists exactly when the work does. Of two submissions at
    once, the second fails at its commit on the stored token and gets the first's result.
    """
    token = usable(token)
    if token is None:
        return work(None), None
    if (earlier := first_result(form, token, user_id)) is not None:
        return None, earlier

    def keep(result: T) -> None:
        remember(token, user_id, None, None, form=form, result_id=result_id(result))

    try:
        return work(keep), None
    except IntegrityError:
        db.session.rollback()
        if (earlier := first_result(form, token, user_id)) is not None:
            return None, earlier  # a double click: the first submission committed first
        if db.session.get(SubmissionToken, token) is not None:
            raise TokenUsed(USED) from None  # someone else's token, or an expired one
        raise


def purge(now: datetime | None = None, force: bool = False) -> int:
    """Delete tokens older than a day (at most every ten minutes); return how many, committed."""
    global _last_purge
    now = now or clock.now()
    if not force and _last_purge is not None and now - _last_purge < _PURGE_EVERY:
        return 0
    _last_purge = now
    gone = 0
    for t in (SubmissionToken.__table__, ApiIdempotency.__table__):
        result = db.session.connection().execute(delete(t).where(t.c.created_at < now - KEEP))
        gone += int(result.rowcount or 0)
    db.session.commit()
    return gone


# -- API idempotency keys ----------------------------------------------------------------

KEY_MAX = 100
# How long a claim without an answer is held for its request before a retry may take it
# over: well beyond `caseflow serve --timeout` (30 s by default), after which gunicorn kills
# a stuck worker; a request that still runs after a takeover is refused at its commit.
LEASE = timedelta(minutes=2)


class KeyReused(ServiceError):
    """The key was first used for another request (another endpoint or body)."""

    status = 422
    code = "idempotency_key_reused"


class KeyInUse(Conflict):
    """The first request with this key is still running."""

    code = "idempotency_key_in_use"


@dataclass(frozen=True)
class Answer:
    """The stored first answer to a request with a key."""

    status: int
    body: str


@dataclass(frozen=True)
class Claim:
    """A key held by the running request; `at` tells this claim from a later takeover."""

    user_id: int
    key: str
    at: datetime


def request_digest(endpoint: str, body: bytes) -> str:
    """Return the fingerprint of a request: its endpoint and body."""
    return hashlib.sha256(endpoint.encode() + b"\0" + body).hexdigest()


def submission_token(user_id: int, key: str) -> str:
    """Return the task-form token standing for a user's API key (the completion race)."""
    return hashlib.sha256(f"api:{user_id}:{key}".encode()).hexdigest()


def _row(user_id: int, key: str) -> ApiIdempotency | None:
    return db.session.scalar(select(ApiIdempotency).where(ApiIdempotency.user_id == user_id,
                                                          ApiIdempotency.key == key))


def _mine(claim: Claim) -> Any:
    """Select the claim's row while it is still this request's and still unanswered."""
    t = ApiIdempotency.__table__
    return ((t.c.user_id == claim.user_id) & (t.c.key == claim.key)
            & (t.c.created_at == claim.at) & t.c.status.is_(None))


def claim(user_id: int, key: str, endpoint: str, digest: str) -> Claim | Answer:
    """Claim `key` for this request (committed); return the first answer of a retry.

    A claim left without an answer for longer than LEASE (its request died) is taken over.
    Raises KeyReused for a key first used for another request, KeyInUse while the first
    request with it may still be running.
    """
    now = clock.now()
    row = _row(user_id, key)
    if row is not None and row.created_at < now - KEEP:
        db.session.delete(row)  # an expired key starts afresh
        db.session.flush()
        row = None
    if row is not None:
        if (row.endpoint, row.request_hash) != (endpoint, digest):
            raise KeyReused("this Idempotency-Key was used for a different request")
        if row.status is not None and row.body is not None:
            return Answer(row.status, row.body)
        if row.created_at > now - LEASE:
            raise KeyInUse("a request with this Idempotency-Key is still running")
        return _take_over(Claim(user_id, key, row.created_at), now)
    db.session.add(ApiIdempotency(user_id=user_id, key=key, endpoint=endpoint,
                                  request_hash=digest, created_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise KeyInUse("a request with this Idempotency-Key is still running") from None
    return Claim(user_id, key, now)


def _take_over(stale: Claim, now: datetime) -> Claim | Answer:
    """Take over a claim whose request died; of two retries doing so at once, one wins."""
    t = ApiIdempotency.__table__
    taken = db.session.connection().execute(update(t).where(_mine(stale)).values(created_at=now))
    if taken.rowcount == 1:
        db.session.commit()
        return Claim(stale.user_id, stale.key, now)
    db.session.rollback()
    row = _row(stale.user_id, stale.key)
    if row is not None and row.status is not None and row.body is not None:
        return Answer(row.status, row.body)  # the first request finished after all
    raise KeyInUse("a request with this Idempotency-Key is still running")


def answer(claim: Claim, first: Answer) -> None:
    """Write the answer to a claimed key in the current transaction; the caller commits it
    with its work.

    Raises KeyInUse (after rolling the work back) when a retry took the key over meanwhile:
    this request outlived its lease, and the retry does the work instead.
    """
    t = ApiIdempotency.__table__
    stored = db.session.connection().execute(
        update(t).where(_mine(claim)).values(status=first.status, body=first.body))
    if stored.rowcount != 1:
        db.session.rollback()
        raise KeyInUse("a retry with this Idempotency-Key took over from this request, "
                       "which ran too long; nothing was changed by it")


def keep(claim: Claim, first: Answer) -> None:
    """Store the answer of a request whose service did not store it with its work
    (committed); nothing happens when it is stored already or the key was taken over."""
    t = ApiIdempotency.__table__
    db.session.connection().execute(
        update(t).where(_mine(claim)).values(status=first.status, body=first.body))
    db.session.commit()


def release(claim: Claim) -> None:
    """Give a claimed key back (the request failed and changed nothing), committed."""
    db.session.rollback()
    db.session.connection().execute(delete(ApiIdempotency.__table__).where(_mine(claim)))
    db.session.commit()
