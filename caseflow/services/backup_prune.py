"""Remove the old copies `backup make` dated in a folder, always keeping the newest.

A copy holds every student's personal data, so keeping copies for ever is a risk of its
own: a school keeps them for a set time and then destroys them. Only files named as
`backup make` names them in a folder (`caseflow-<UTC time>.sqlite3` or `.pgdump`) are
considered, by the time in their name (a copied file's mtime is not when it was made);
other files, and a backup still being written, are never touched. Each removal is an audit
event, in the same way as making the copy was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from caseflow import audit, clock
from caseflow.db import db
from caseflow.services.backup import STAMP, SUFFIX, BackupRefused

DATED = re.compile(rf"^caseflow-(\d{{8}}T\d{{6}}Z)\.({'|'.join(SUFFIX.values())})$")


@dataclass(frozen=True)
class Copy:
    """One dated copy in the folder."""

    path: Path
    made_at: datetime
    size: int


@dataclass
class Pruned:
    """What a prune kept and removed (or would remove, on a dry run)."""

    kept: list[Copy]
    removed: list[Copy]


def copies(folder: Path) -> list[Copy]:
    """Return the copies `backup make` dated in `folder`, newest first."""
    found = []
    for path in folder.iterdir():
        made_at = _made_at(path.name)
        if made_at and path.is_file() and not path.is_symlink():
            found.append(Copy(path, made_at, path.stat().st_size))
    return sorted(found, key=lambda c: c.made_at, reverse=True)


def _made_at(name: str) -> datetime | None:
    named = DATED.match(name)
    try:
        return datetime.strptime(named.group(1), STAMP).replace(tzinfo=UTC) if named else None
    except ValueError:  # a name of that shape that is no time (month 13): not ours
        return None


def prune(folder: Path, keep_days: int, keep_last: int, actor: audit.Actor,
          dry_run: bool = False) -> Pruned:
    """Remove the copies older than `keep_days`, except the newest `keep_last`."""
    if not folder.is_dir():
        raise BackupRefused(f"{folder}: no such folder")
    if keep_days < 1 or keep_last < 1:
        raise BackupRefused("keep at least one day and one copy: a prune never removes the "
                            "newest copy")
    found = copies(folder)
    cutoff = clock.now() - timedelta(days=keep_days)
    old = [c for c in found[keep_last:] if c.made_at < cutoff]
    result = Pruned([c for c in found if c not in old], old)
    if dry_run:
        return result
    for copy in old:
        copy.path.unlink()
        audit.record("backup_removed", actor, detail={
            "file": copy.path.name, "bytes": copy.size, "made_at": copy.made_at.isoformat(),
            "keep_days": keep_days, "keep_last": keep_last})
        db.session.commit()
    return result
