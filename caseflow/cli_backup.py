"""`caseflow backup …`: copy the database to one file while caseflow runs, check a copy,
remove old copies."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from caseflow.cli_common import app_context, cli_actor, refusals


@click.group("backup")
def backup_group() -> None:
    """Copy the database to one file while caseflow runs, and check such copies."""


@backup_group.command("make")
@click.argument("dest", type=click.Path(path_type=Path))
@refusals()
def make_backup(dest: Path) -> None:
    """Copy the database to DEST: a new file, or a folder for caseflow-<UTC time>.<kind>.

    SQLite is copied with its online backup API, PostgreSQL with pg_dump (custom format);
    neither needs caseflow stopped. The copy is checked before it gets its name, an
    existing file is never overwritten, and the backup is an audit event.
    """
    from caseflow.services import backup

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        with app_context():
            made = backup.make(dest, cli_actor())
    except KeyboardInterrupt:
        click.echo("backup: stopped; no copy was made (the partial one was removed)", err=True)
        sys.exit(1)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"backup: {made.path} ({made.kind}, {backup.size_text(made.size)})")
    click.echo(f"sha256: {made.sha256}")
    click.echo(f"holds: {made.cases} cases; the audit chain up to event {made.audit_seq}")


def _stop(signum: int, frame: Any) -> None:
    """Take SIGTERM (systemd's stop, its TimeoutStartSec) as Ctrl-C: pg_dump is stopped and
    the partial copy, every student's data, is removed rather than left behind."""
    raise KeyboardInterrupt


@backup_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--restore-into", metavar="URL", default=None,
              help="a pg_dump archive: restore it into this empty PostgreSQL database "
                   "and walk its audit chain there")
@refusals()
def check_backup(file: Path, restore_into: str | None) -> None:
    """Check a copy: readable and whole, its schema, and its audit chain.

    An SQLite copy is checked in place. A pg_dump archive is read in place; with
    --restore-into it is restored into an empty database (left there) and checked whole.
    Exits 1 when something is wrong with it.
    """
    from caseflow.services import backup

    with app_context():
        found = backup.check(file, restore_into)
    for fact in found.facts:
        click.echo(f"ok: {fact}")
    if found.cases is not None:
        click.echo(f"holds: {found.cases} cases; the audit chain up to event {found.audit_seq}")
    for problem in found.problems:
        click.echo(f"problem: {problem}", err=True)
    if found.problems:
        sys.exit(1)


@backup_group.command("prune")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--keep-days", type=click.IntRange(1), default=30, show_default=True,
              help="remove copies made more than this many days ago")
@click.option("--keep-last", type=click.IntRange(1), default=7, show_default=True,
              help="but always keep this many of the newest")
@click.option("--dry-run", is_flag=True, help="say what would be removed; remove nothing")
@refusals()
def prune_backups(folder: Path, keep_days: int, keep_last: int, dry_run: bool) -> None:
    """Remove old copies `backup make` dated in FOLDER; each removal is an audit event.

    Only files named caseflow-<UTC time>.sqlite3 or .pgdump are considered, by the time in
    their name; the newest --keep-last are kept however old. Other files are never touched.
    """
    from caseflow.services import backup, backup_prune

    with app_context():
        done = backup_prune.prune(folder, keep_days, keep_last, cli_actor(), dry_run)
    verb = "would remove" if dry_run else "removed"
    for copy in done.removed:
        click.echo(f"{verb}: {copy.path.name} (made {copy.made_at:%Y-%m-%d %H:%M} UTC, "
                   f"{backup.size_text(copy.size)})")
    newest = f", the newest {done.kept[0].path.name}" if done.kept else ""
    click.echo(f"kept: {len(done.kept)} copies{newest}")
