"""The audit trail: chained in commit order, append-only, tamper-evident."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from caseflow import audit
from caseflow.db import db
from caseflow.models import AuditEvent, AuditHead

KEY = b"test-audit-key"


def _write(n: int, kind: str = "case_viewed") -> None:
    for i in range(n):
        audit.record(kind, audit.Actor(7, "counselor1", "counselor", "127.0.0.1", "pytest"),
                     case_id=i, detail={"i": i, "名字": "张三"})
    db.session.commit()


def _drop_triggers() -> None:
    # Only someone with the database owner's rights can do this; the chain must still tell.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER audit_event_no_update"))
        db.session.execute(text("DROP TRIGGER audit_event_no_delete"))
    db.session.commit()


def test_events_are_chained_in_order(app):
    _write(3)
    _write(2, "task_completed")
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    head = db.session.get(AuditHead, 1)
    assert (head.seq, head.hash) == (5, rows[-1].hash)
    assert audit.verify(db.session, KEY).ok


def test_a_rolled_back_change_leaves_no_event(app):
    audit.record("case_opened", audit.SYSTEM, detail={"x": 1})
    db.session.rollback()
    _write(1)
    assert db.session.scalar(select(AuditEvent.event_type)) == "case_viewed"


def test_database_refuses_update_and_delete(app):
    _write(2)
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text("UPDATE audit_event SET actor = 'x' WHERE seq = 1"))
    db.session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    db.session.rollback()
    assert audit.verify(db.session).ok


def test_verify_names_an_altered_row(app):
    _write(5)
    _drop_triggers()
    db.session.execute(text("UPDATE audit_event SET detail = '{}' WHERE seq = 3"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and result.bad_seq == 3 and "altered" in result.message


def test_verify_names_a_removed_row(app):
    _write(5)
    _drop_triggers()
    db.session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and result.bad_seq == 2 and "missing" in result.message


def test_verify_notices_rows_cut_from_the_end(app):
    _write(4)
    _drop_triggers()
    db.session.execute(text("DELETE FROM audit_event WHERE seq = 4"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok and "removed from the end" in result.message


def test_verify_notices_a_rebuilt_chain_through_the_signature(app):
    _write(3)
    audit.sign_head(db.session, KEY)
    db.session.commit()
    assert audit.verify(db.session, KEY).ok
    _drop_triggers()
    # someone rewrites row 2 and recomputes every hash after it, but has no key
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    prev = rows[0].hash
    for row in rows[1:]:
        fields = {c: getattr(row, c) for c in ("at", "actor_id", "actor", "actor_role", "ip",
                                               "user_agent", "case_id", "task_id",
                                               "event_type", "result", "detail")}
        if row.seq == 2:
            fields["detail"] = "{}"
        digest = audit.row_hash(prev, row.seq, fields)
        db.session.execute(text("UPDATE audit_event SET detail = :d, prev_hash = :p, hash = :h "
                                "WHERE seq = :s"),
                           {"d": fields["detail"], "p": prev, "h": digest, "s": row.seq})
        prev = digest
    db.session.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    db.session.commit()
    assert audit.verify(db.session).ok  # the plain chain is consistent again...
    result = audit.verify(db.session, KEY)  # ...but the signed checkpoint is not
    assert not result.ok and "signature" in result.message
