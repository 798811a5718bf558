"""The only writer of the audit trail: append-only events in one SHA-256 chain, in commit order.

`record()` queues an event on the session; just before the session commits, the queued
events are chained after the current head (locked by an UPDATE, so chain order is
commit order) and inserted in the same transaction as the change they describe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from caseflow import clock
from caseflow.db import db
from caseflow.models.audit import AuditEvent, AuditHead

GENESIS = "0" * 64
_PENDING = "caseflow_audit_pending"


@dataclass(frozen=True)
class Actor:
    """Who did something, and from where."""

    user_id: int | None
    name: str
    role: str | None = None
    ip: str | None = None
    user_agent: str | None = None


SYSTEM = Actor(None, "system")


def record(
    event_type: str,
    actor: Actor = SYSTEM,
    *,
    case_id: int | None = None,
    task_id: int | None = None,
    detail: dict[str, Any] | None = None,
    result: str = "ok",
    session: Session | None = None,
) -> None:
    """Queue one audit event; it is written with the next commit of the session."""
    sess = session or db.session()
    row = {
        "at": clock.now(),
        "actor_id": actor.user_id,
        "actor": actor.name,
        "actor_role": actor.role,
        "ip": actor.ip,
        "user_agent": (actor.user_agent or None) and actor.user_agent[:300],
        "case_id": case_id,
        "task_id": task_id,
        "event_type": event_type,
        "result": result,
        "detail": canonical(detail or {}),
    }
    if not sess.in_transaction():
        sess.begin()  # so a rollback, even with nothing flushed, also drops this event
    sess.info.setdefault(_PENDING, []).append(row)


def canonical(value: Any) -> str:
    """Return the canonical JSON text used in the chain (sorted keys, UTF-8)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


def row_hash(prev_hash: str, seq: int, row: dict[str, Any]) -> str:
    """Return SHA-256 over the previous hash and this row's fields."""
    at = row["at"]
    fields = [
        prev_hash, str(seq), at.isoformat() if isinstance(at, datetime) else str(at),
        str(row["actor_id"] or ""), row["actor"], row["actor_role"] or "", row["ip"] or "",
        row["user_agent"] or "", str(row["case_id"] or ""), str(row["task_id"] or ""),
        row["event_type"], row["result"], row["detail"],
    ]
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


def _ensure_head(session: Session) -> None:
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        session.flush()


def _claim_positions(session: Session, count: int) -> tuple[int, str]:
    """Reserve `count` chain positions; return (last seq before them, hash there).

    The UPDATE takes the row lock (PostgreSQL) / the write lock (SQLite) first, so no
    other writer can chain between our read and our insert: chain order is commit order.
    """
    head = AuditHead.__table__
    stmt = (update(head).where(head.c.id == 1)
            .values(seq=head.c.seq + count).returning(head.c.seq, head.c.hash))
    row = session.connection().execute(stmt).first()
    if row is None:
        _ensure_head(session)
        row = session.connection().execute(stmt).one()
    return row[0] - count, row[1]


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    seq, prev = _claim_positions(session, len(pending))
    rows = []
    for row in pending:
        seq += 1
        digest = row_hash(prev, seq, row)
        rows.append({**row, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    conn = session.connection()  # Core, not the ORM: this runs on every commit
    conn.execute(insert(AuditEvent.__table__), rows)
    head = AuditHead.__table__
    conn.execute(update(head).where(head.c.id == 1).values(hash=prev))


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: Any) -> None:
    # After a commit the queue is already empty; after a rollback it must not survive.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def discard_pending(session: Session | None = None) -> None:
    """Forget queued events (after a failed unit of work)."""
    (session or db.session()).info.pop(_PENDING, None)


# -- verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain."""

    ok: bool
    checked: int
    message: str
    bad_seq: int | None = None


def _row_dict(ev: AuditEvent) -> dict[str, Any]:
    return {
        "at": ev.at, "actor_id": ev.actor_id, "actor": ev.actor, "actor_role": ev.actor_role,
        "ip": ev.ip, "user_agent": ev.user_agent, "case_id": ev.case_id, "task_id": ev.task_id,
        "event_type": ev.event_type, "result": ev.result, "detail": ev.detail,
    }


def iter_events(session: Session, since_seq: int = 0) -> Iterator[AuditEvent]:
    """Yield audit events in chain order, in batches."""
    last = since_seq
    while True:
        batch = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(2000)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def verify(session: Session, key: bytes | None = None) -> VerifyResult:
    """Walk the whole chain; report the first row that was altered, removed or reordered."""
    prev, expected, count = GENESIS, 1, 0
    for ev in iter_events(session):
        if ev.seq != expected:
            return VerifyResult(False, count, f"row seq {expected} is missing "
                                f"(next row found is seq {ev.seq}, id {ev.id})", expected)
        if ev.prev_hash != prev:
            return VerifyResult(False, count, f"row seq {ev.seq} (id {ev.id}) does not follow "
                                "the row before it: a row was removed or reordered", ev.seq)
        if row_hash(prev, ev.seq, _row_dict(ev)) != ev.hash:
            return VerifyResult(False, count, f"row seq {ev.seq} (id {ev.id}, "
                                f"{ev.event_type}) was altered after it was written", ev.seq)
        prev, expected, count = ev.hash, expected + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return VerifyResult(False, count, f"the chain head says {head.seq} rows but "
                            f"{count} were found: rows were removed from the end", count + 1)
    if key and head is not None and head.signature:
        problem = _check_signature(session, head, key)
        if problem:
            return VerifyResult(False, count, problem, None)
    return VerifyResult(True, count, f"ok: {count} audit events, chain intact")


def sign(seq: int, digest: str, key: bytes) -> str:
    """Return the HMAC-SHA-256 of a chain position, with a key kept outside the database."""
    return hmac.new(key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def sign_head(session: Session, key: bytes) -> tuple[int, str]:
    """Sign the current chain position (a checkpoint); return (seq, signature)."""
    _ensure_head(session)
    head = session.get(AuditHead, 1)
    assert head is not None
    head.signed_seq = head.seq
    head.signature = sign(head.seq, head.hash, key)
    head.signed_at = clock.now()
    return head.seq, head.signature


def _check_signature(session: Session, head: AuditHead, key: bytes) -> str | None:
    seq = head.signed_seq or 0
    digest = GENESIS
    if seq:
        found = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
        if found is None:
            return f"the signed checkpoint (seq {seq}) is missing from the chain"
        digest = found
    if not hmac.compare_digest(sign(seq, digest, key), head.signature or ""):
        return (f"the signature of checkpoint seq {seq} does not match: the chain was "
                "rebuilt by someone without the signing key")
    return None


def keyed_digest(value: str, key: bytes) -> str:
    """Return a keyed digest of a confidential value, so auditors can confirm it blind."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
