"""`caseflow backup prune`: old dated copies go, the newest stay, nothing else is touched,
and each removal is an audit event (both databases)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from caseflow import audit, clock
from caseflow.cli import main
from caseflow.cli_common import os_user
from caseflow.db import db
from caseflow.models import AuditEvent
from caseflow.services import backup, backup_prune

OPERATOR = audit.Actor(None, "cli:operator", "admin")
OTHERS = ("notes.txt", "caseflow-before-upgrade.sqlite3", "caseflow-20261399T000000Z.sqlite3",
          ".caseflow-20200101T000000Z.pgdump.partial")


@pytest.fixture
def folder(app, tmp_path: Path) -> Path:
    """A backup folder with copies made 40, 35, 20 and 1 days ago, and other files."""
    out = tmp_path / "backups"
    out.mkdir()
    now = clock.now()
    for days in (40, 35, 20, 1):
        with clock.pinned(now - timedelta(days=days)):
            backup.make(out, OPERATOR)
    for name in OTHERS:
        (out / name).write_text("not a dated copy")
    return out


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _removals() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "backup_removed").order_by(AuditEvent.seq)))


def test_prune_removes_copies_past_the_days_and_records_each_removal(folder: Path):
    dated = [c.path.name for c in backup_prune.copies(folder)]  # newest first
    assert len(dated) == 4
    before = _names(folder)
    planned = backup_prune.prune(folder, 30, 1, OPERATOR, dry_run=True)
    assert [c.path.name for c in planned.removed] == dated[2:]
    assert _names(folder) == before and _removals() == []  # a dry run changes nothing

    done = backup_prune.prune(folder, 30, 1, OPERATOR)
    assert [c.path.name for c in done.removed] == dated[2:]
    assert [c.path.name for c in done.kept] == dated[:2]
    assert _names(folder) == sorted([*dated[:2], *OTHERS])
    events = _removals()
    assert [e.actor for e in events] == ["cli:operator"] * 2
    assert [json.loads(e.detail)["file"] for e in events] == dated[2:]
    assert json.loads(events[0].detail)["keep_days"] == 30
    assert backup_prune.prune(folder, 30, 1, OPERATOR).removed == []  # nothing more to do


def test_the_newest_copies_are_kept_however_old(folder: Path):
    clock.advance(timedelta(days=400))
    dated = [c.path.name for c in backup_prune.copies(folder)]
    done = backup_prune.prune(folder, 30, 2, OPERATOR)
    assert [c.path.name for c in done.kept] == dated[:2]
    assert _names(folder) == sorted([*dated[:2], *OTHERS])


def test_prune_refuses_a_missing_folder_and_keeping_nothing(app, tmp_path: Path):
    with pytest.raises(backup.BackupRefused, match="no such folder"):
        backup_prune.prune(tmp_path / "missing", 30, 7, OPERATOR)
    with pytest.raises(backup.BackupRefused, match="never removes the newest copy"):
        backup_prune.prune(tmp_path, 30, 0, OPERATOR)


def test_the_prune_command_says_what_it_removes_and_keeps(folder: Path, cli_database):
    db.session.remove()  # let the command's own app write the audit events
    dated = [c.path.name for c in backup_prune.copies(folder)]
    dry = CliRunner().invoke(main, ["backup", "prune", str(folder), "--keep-last", "1",
                                    "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would remove: {dated[3]}" in dry.output and len(list(folder.iterdir())) == 8
    done = CliRunner().invoke(main, ["backup", "prune", str(folder), "--keep-last", "1"])
    assert done.exit_code == 0, done.output
    assert f"removed: {dated[2]}" in done.output and f"removed: {dated[3]}" in done.output
    assert f"kept: 2 copies, the newest {dated[0]}" in done.output
    assert [e.actor for e in _removals()] == [f"cli:{os_user()}"] * 2
    refused = CliRunner().invoke(main, ["backup", "prune", str(folder), "--keep-last", "0"])
    assert refused.exit_code == 2 and "--keep-last" in refused.output

