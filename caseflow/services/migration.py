"""Move running instances of a process onto another deployed version, after a fix.

A rollback or a fixed deploy only changes the version new instances start on. Cases that
started on a broken version stay on it until they are moved: `move` takes each running
instance of the process that is on another version, checks that its task tree fits the
target (caseflow.engine.migrating), and moves it in a unit of work of its own: the state,
the open task rows' version, the timers held for a fix released so the worker fires them
at once, and a `process_migrated` audit event. Each task keeps its id, state, data,
assignee and due time; nobody's open step changes under them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update

from caseflow import audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import migrating
from caseflow.models import Case, ProcessCurrent, ProcessVersion, TaskRow, WorkflowInstance
from caseflow.services import NotFound, ServiceError, runner, setup, timers
from caseflow.services.runner import StaleInstance


@dataclass
class Move:
    """What happened, or with `dry_run` would happen, to one instance."""

    instance_id: int
    case_number: str | None
    from_version: int
    to_version: int
    moved: bool = False
    changed: list[str] = field(default_factory=list)  # element ids whose definition changes
    blockers: list[str] = field(default_factory=list)  # why it stays, in words

    @property
    def possible(self) -> bool:
        """Return whether the instance can move (moved, or would be without dry_run)."""
        return not self.blockers


@dataclass(frozen=True)
class VersionCount:
    """A deployed version and how many of its instances run."""

    process_id: str
    version_id: int
    source_hash: str
    deployed_at: datetime
    running: int
    current: bool  # new instances start on it
    name: str | None = None  # the process's name in this version


def versions(process_id: str | None = None) -> list[VersionCount]:
    """Return each deployed version (of one process, or all) with its running instances."""
    running = (select(func.count(WorkflowInstance.id))
               .where(WorkflowInstance.process_version_id == ProcessVersion.id,
                      WorkflowInstance.status == "running").scalar_subquery())
    query = (select(ProcessVersion.process_id, ProcessVersion.id, ProcessVersion.source_hash,
                    ProcessVersion.deployed_at, running, ProcessCurrent.version_id,
                    ProcessVersion.name)
             .outerjoin(ProcessCurrent, ProcessCurrent.process_id == ProcessVersion.process_id))
    if process_id is not None:
        query = query.where(ProcessVersion.process_id == process_id)
    rows = db.session.execute(query.order_by(ProcessVersion.process_id,
                                             ProcessVersion.id.desc())).all()
    return [VersionCount(pid, vid, digest, at, count, vid == current, name)
            for pid, vid, digest, at, count, current, name in rows]


def behind(found: list[VersionCount]) -> dict[str, int]:
    """Return, per process with any, how many running instances are on a version other
    than the one new instances start on."""
    counts: dict[str, int] = {}
    for v in found:
        if v.running and not v.current:
            counts[v.process_id] = counts.get(v.process_id, 0) + v.running
    return counts


def make_current(version_id: int, actor: Actor) -> str:
    """Make new instances of its process start on a deployed version again (a rollback,
    or forward again after one); return what happened, in words. Audited as a deploy."""
    row = db.session.get(ProcessVersion, version_id)
    if row is None:
        raise NotFound(f"no process version {version_id}")
    current = db.session.get(ProcessCurrent, row.process_id)
    if current is not None and current.version_id == row.id:
        return f"unchanged {row.process_id} (version {row.id})"
    setup.set_current(row.process_id, row.id)
    audit.record("process_deployed", actor, detail={
        "process_id": row.process_id, "hash": row.source_hash, "version": row.id,
        "files": sorted(json.loads(row.sources)), "restored": True})
    db.session.commit()
    return setup.restored_line(row.process_id, row.id, row.source_hash)


def target_version(process_id: str, version_id: int | None) -> ProcessVersion:
    """Return the version to move to: `version_id`, or the one new instances start on."""
    if version_id is None:
        return runner.latest_version(process_id)
    row = db.session.get(ProcessVersion, version_id)
    if row is None or row.process_id != process_id:
        raise NotFound(f"version {version_id} is not a deployed version of {process_id!r} "
                       "(`caseflow instances list` shows them)")
    return row


def to_move(process_id: str, target: ProcessVersion, from_version: int | None = None,
            case_numbers: Sequence[str] = ()) -> list[int]:
    """Return the ids of the running instances of a process not on `target`, oldest first."""
    query = (select(WorkflowInstance.id)
             .join(ProcessVersion, ProcessVersion.id == WorkflowInstance.process_version_id)
             .where(ProcessVersion.process_id == process_id,
                    WorkflowInstance.status == "running",
                    WorkflowInstance.process_version_id != target.id))
    if from_version is not None:
        query = query.where(WorkflowInstance.process_version_id == from_version)
    if case_numbers:
        found = dict(db.session.execute(select(Case.number, Case.id)
                                        .where(Case.number.in_(case_numbers))).all())
        unknown = sorted(set(case_numbers) - set(found))
        if unknown:
            raise NotFound(f"no case numbered {', '.join(unknown)}")
        query = query.where(WorkflowInstance.case_id.in_(found.values()))
    return list(db.session.scalars(query.order_by(WorkflowInstance.id)))


def move(process_id: str, actor: Actor, *, to_version: int | None = None,
         from_version: int | None = None, case_numbers: Sequence[str] = (),
         dry_run: bool = False) -> list[Move]:
    """Move each running instance of `process_id` not on the target; one commit each.

    An instance that does not fit the target stays where it is, and its Move says why.
    """
    return move_batch(process_id, actor, to_version=to_version, from_version=from_version,
                      case_numbers=case_numbers, dry_run=dry_run).moves


# a page's share of gunicorn's 30 s timeout: a web request moves this long, then offers more
WEB_SECONDS = 10.0


@dataclass
class Batch:
    """A run of moves, and how many instances are left after the last of them."""

    moves: list[Move]
    left: int
    last_id: int  # go on with the instances after this one


def move_batch(process_id: str, actor: Actor, *, to_version: int | None = None,
               from_version: int | None = None, case_numbers: Sequence[str] = (),
               dry_run: bool = False, after: int = 0, seconds: float | None = None) -> Batch:
    """Move (or check) the instances `move` would, oldest first after instance `after`,
    stopping after about `seconds` (None: all of them): a school's thousands of cases
    take minutes, longer than a web request may run."""
    target = target_version(process_id, to_version)
    if from_version is not None and from_version == target.id:
        raise ServiceError(f"--from and the target are both version {target.id}")
    ids = [i for i in to_move(process_id, target, from_version, case_numbers) if i > after]
    db.session.rollback()  # the reads above are not part of any instance's unit of work
    started, moves = time.monotonic(), []
    for instance_id in ids:
        if seconds is not None and moves and time.monotonic() - started >= seconds:
            break
        moves.append(move_instance(instance_id, target.id, actor, dry_run))
    return Batch(moves, len(ids) - len(moves), moves[-1].instance_id if moves else after)


def move_instance(instance_id: int, target_id: int, actor: Actor,
                  dry_run: bool = False) -> Move:
    """Move one instance to version `target_id` in its own unit of work, if it fits."""
    instance = db.session.get(WorkflowInstance, instance_id)
    if instance is None:
        raise NotFound(f"no instance {instance_id}")
    case = db.session.get(Case, instance.case_id) if instance.case_id else None
    result = Move(instance.id, case.number if case else None,
                  instance.process_version_id, target_id)
    if instance.status != "running" or instance.process_version_id == target_id:
        result.blockers.append("its process ended, or it was moved, before it could be moved")
    else:
        with clock.pinned(clock.now()):
            _check_and_move(instance, result, actor, dry_run)
    if not result.moved:
        db.session.rollback()  # nothing of a refused or dry-run move stays
    return result


def _check_and_move(instance: WorkflowInstance, result: Move, actor: Actor,
                    dry_run: bool) -> None:
    loaded_version, target = instance.version, runner.parsed(result.to_version)
    run = runner.load(instance)
    moved, found = ((None, migrating.plan(run, target)) if dry_run
                    else migrating.migrate(run, target))
    result.changed, result.blockers = found.changed, found.blockers
    if moved is None:  # a dry run, or it cannot move: the Run is dropped with the session
        return
    try:
        runner.lock_instance(instance.id, loaded_version)
    except StaleInstance:  # rolled back: a step or a timer went first
        result.blockers.append("someone changed this case while it was being moved: run "
                               "the command again")
        return
    _write(instance, moved.dump(), result, actor)
    result.moved = True


def _write(instance: WorkflowInstance, state: str, result: Move, actor: Actor) -> None:
    now = clock.now()
    instance.state, instance.updated_at = state, now
    instance.process_version_id = result.to_version
    db.session.execute(update(TaskRow).where(
        TaskRow.instance_id == instance.id, TaskRow.state == "ready")
        .values(process_version_id=result.to_version))
    released = timers.unhold(instance.id, now)
    audit.record("process_migrated", actor, case_id=instance.case_id, detail={
        "process": runner.parsed(result.to_version).process_id, "instance": instance.id,
        "from_version": result.from_version, "to_version": result.to_version,
        "changed": result.changed, "timers_released": released})
    db.session.commit()
