"""Export the audit chain (with its hashes) so a school can keep a copy off the server."""

from __future__ import annotations

import csv
from pathlib import Path

from flask import current_app

from caseflow import audit
from caseflow.db import db

COLUMNS = ("seq", "at", "actor_id", "actor", "actor_role", "ip", "user_agent", "case_id",
           "task_id", "event_type", "result", "detail", "prev_hash", "hash")


def write_csv(path: Path, actor: audit.Actor, since: int = 0) -> tuple[int, int]:
    """Write events after seq `since` to `path` and a signed checkpoint to `path`.sig.

    Returns (events written, last seq). Anyone can re-check the hashes with SHA-256 over
    the previous hash and the row's fields (see audit.row_hash); the .sig file lets the
    school confirm, with its key, that the chain up to that seq was not rebuilt.
    """
    count, last = 0, since
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for ev in audit.iter_events(db.session, since):
            writer.writerow([ev.seq, ev.at.isoformat(), ev.actor_id or "", ev.actor,
                             ev.actor_role or "", ev.ip or "", ev.user_agent or "",
                             ev.case_id or "", ev.task_id or "", ev.event_type, ev.result,
                             ev.detail, ev.prev_hash, ev.hash])
            count, last = count + 1, ev.seq
    key = current_app.config["AUDIT_KEY"].encode()
    seq, signature = audit.sign_head(db.session, key)
    Path(f"{path}.sig").write_text(f"seq={seq}\nsignature={signature}\n", encoding="utf-8")
    audit.record("audit_exported", actor,
                 detail={"since": since, "events": count, "last_seq": last, "file": path.name})
    db.session.commit()
    return count, last
