"""Install-time work: migrate the schema, seed reference data, deploy the processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from sqlalchemy import select

import workflows
from caseflow import audit, clock
from caseflow.db import db, held
from caseflow.engine import BpmnCheckError, ProcessSource, check_files, split_bundle
from caseflow.models import Lookup, ProcessCurrent, ProcessVersion, School

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class DeployError(Exception):
    """A process that cannot be deployed (e.g. a lane with no role)."""


@contextmanager
def exclusive(waiting: Callable[[], None]) -> Iterator[None]:
    """Let one setup at a time (migrations, reference data, deploys) work on this database,
    from whichever process or host; if another is at work, call `waiting` and wait for it.

    Two `init-db` started together (a province's app hosts upgraded at once) would
    otherwise both create the schema or deploy the same files, and one would fail."""
    with held(db.engine, "setup", waiting):
        yield


def prepare_database(by: str) -> list[str]:
    """Migrate, seed the reference data and deploy what changed; return one line per
    process. Hold `exclusive` around it."""
    migrate_database()
    seed_reference_data()
    return deploy_processes(by=by)


def migrate_database() -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    from flask_migrate import upgrade

    upgrade(directory=str(MIGRATIONS), revision="heads")


def seed_reference_data() -> None:
    """Create the school row and the editable lists (lookups) if they are missing."""
    if db.session.scalar(select(School.id).limit(1)) is None:
        db.session.add(School(name=current_app.config["SCHOOL_NAME"]))
    have = {(k, c) for k, c in db.session.execute(select(Lookup.kind, Lookup.code))}
    for kind, items in _seed_lookups().items():
        for sort, item in enumerate(items):
            if (kind, item["code"]) in have:
                continue
            db.session.add(Lookup(kind=kind, code=item["code"], label_zh=item["zh"],
                                  label_en=item["en"], crisis=bool(item.get("crisis")),
                                  sort=sort))
    db.session.commit()


def _seed_lookups() -> dict[str, list[dict]]:
    try:
        return dict(getattr(workflows.describe("fraud_case"), "LOOKUPS", {}))
    except workflows.UnknownProcess:
        return {}


def read_folder(folder: Path) -> dict[str, bytes]:
    """Read every .bpmn and .dmn file of a folder."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.suffix in (".bpmn", ".dmn") and p.is_file()}


def check_lanes(source: ProcessSource) -> None:
    """Refuse a process with a lane that maps to no role, naming the file and lane."""
    try:
        lane_map = workflows.lanes(source.process_id)
    except workflows.UnknownProcess as exc:
        raise DeployError(str(exc)) from exc
    for lane in source.lanes:
        if lane not in lane_map:
            files = ", ".join(f for f in source.files if f.endswith(".bpmn"))
            raise DeployError(f"{files}: lane {lane!r} of process {source.process_id!r} maps "
                              f"to no role: add it to LANES in workflows/{source.process_id}.py")


def deploy_sources(files: dict[str, bytes], by: str) -> list[str]:
    """Deploy each process of `files` whose sources changed; return one line per process.

    New instances start on what was deployed last: a new version, or an older one whose
    files these are again (rolling a broken model back). Running instances keep theirs.
    """
    sources = split_bundle(files)
    for source in sources:
        check_lanes(source)
    lines = [_deploy(source, by) for source in sources]
    db.session.commit()
    return lines


def _deploy(source: ProcessSource, by: str) -> str:
    current = db.session.get(ProcessCurrent, source.process_id)
    known = db.session.scalar(select(ProcessVersion.id).where(
        ProcessVersion.process_id == source.process_id,
        ProcessVersion.source_hash == source.source_hash))
    if known is not None and current is not None and current.version_id == known:
        return f"unchanged {source.process_id} (version {known})"
    detail = {"process_id": source.process_id, "hash": source.source_hash,
              "files": sorted(source.files)}
    if known is None:
        row = ProcessVersion(process_id=source.process_id, name=source.name,
                             source_hash=source.source_hash, deployed_by=by,
                             sources=json.dumps(source.files, ensure_ascii=False))
        db.session.add(row)
        db.session.flush()
        known, line = row.id, (f"deployed {source.process_id} (version {row.id}, "
                               f"{source.source_hash[:12]})")
    else:
        detail["restored"] = True  # the files of an older version: it is current again
        line = restored_line(source.process_id, known, source.source_hash)
    set_current(source.process_id, known)
    audit.record("process_deployed", audit.Actor(None, by), detail={**detail, "version": known})
    return line


def set_current(process_id: str, version_id: int) -> None:
    """Make new instances of a process start on one of its deployed versions."""
    current = db.session.get(ProcessCurrent, process_id)
    if current is None:
        db.session.add(ProcessCurrent(process_id=process_id, version_id=version_id))
    else:
        current.version_id, current.since = version_id, clock.now()


def restored_line(process_id: str, version_id: int, source_hash: str) -> str:
    """Say that an older version is current again."""
    return (f"restored {process_id} (version {version_id}, {source_hash[:12]}): "
            "new instances start on it again")


def deploy_processes(by: str, folder: str | Path | None = None) -> list[str]:
    """Deploy what changed in the BPMN folder."""
    path = Path(folder or current_app.config["BPMN_DIR"])
    files = read_folder(path)
    if not files:
        return [f"no .bpmn files in {path}"]
    return deploy_sources(files, by)


def check_paths(paths: Iterable[Path]) -> tuple[list[str], bool]:
    """Check files for `caseflow bpmn check`: one line per file, and whether all were ok."""
    files: dict[str, bytes] = {}
    lines: list[str] = []
    for path in paths:
        try:
            files[str(path)] = path.read_bytes()
        except OSError as exc:
            lines.append(f"refused {path}: cannot read it: {exc.strerror or exc}")
    ok = not lines
    try:
        reports = check_files(files) if files else []
    except BpmnCheckError as exc:  # defensive: check_files reports, it should not raise
        return lines + [f"refused {exc}"], False
    for report in reports:
        if report.ok:
            ids = ", ".join(report.process_ids + report.decision_ids) or "no executable process"
            lines.append(f"ok {report.file}: {ids}")
        else:
            ok = False
            lines.append(f"refused {report.problems[0]}")
            lines.extend(f"    also: {p}" for p in report.problems[1:])
    return lines, ok
