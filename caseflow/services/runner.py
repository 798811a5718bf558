"""Load an instance, act on it through the engine, and write back state, rows and audit.

Every change to a workflow goes through `start_instance` or `act`: the state row, the task
and timer rows, the notifications and the audit events are written in the caller's one
transaction; the instance's version column refuses a write that lost a race.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm.exc import StaleDataError

import workflows
from caseflow import audit, clock, settings, timefmt
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import (
    EngineEvent,
    HumanTask,
    ParsedProcess,
    Run,
    due_from,
    load_process,
    standard_functions,
)
from caseflow.models import (
    Case,
    ProcessCurrent,
    ProcessVersion,
    TaskRow,
    TimerRow,
    WorkflowInstance,
)
from caseflow.services import Conflict, NotFound, notify

TASKS = TaskRow.__table__
TIMERS = TimerRow.__table__
INSTANCES = WorkflowInstance.__table__


@dataclass(frozen=True)
class TaskRef:
    """A task row that one engine run opened or closed."""

    id: int
    task_spec: str
    name: str
    role: str | None


@dataclass
class Outcome:
    """What one engine run changed."""

    instance: WorkflowInstance
    events: list[EngineEvent]
    opened: list[TaskRef] = field(default_factory=list)
    closed: list[TaskRef] = field(default_factory=list)
    data_objects: dict[str, Any] = field(default_factory=dict)


def version_files(version_id: int) -> tuple[str, str, dict[str, str]]:
    """Return a deployed version's process id, source hash and files (cached: they never change)."""
    return _cached_version_files(db.engine.url.render_as_string(), version_id)


@lru_cache(maxsize=256)
def _cached_version_files(database: str, version_id: int) -> tuple[str, str, dict[str, str]]:
    # Deployed versions never change, so their sources are cached per database and id.
    row = db.session.get(ProcessVersion, version_id)
    if row is None:
        raise NotFound(f"no process version {version_id}")
    return row.process_id, row.source_hash, json.loads(row.sources)


def parsed(version_id: int) -> ParsedProcess:
    """Return the parsed spec of a deployed process version (cached)."""
    process_id, digest, files = version_files(version_id)
    return load_process(process_id, files, digest)


def latest_version(process_id: str) -> ProcessVersion:
    """Return the version new instances of a process start on (see ProcessCurrent)."""
    row = db.session.scalars(
        select(ProcessVersion).join(ProcessCurrent, ProcessCurrent.version_id == ProcessVersion.id)
        .where(ProcessCurrent.process_id == process_id)).first()
    if row is None:
        raise NotFound(f"process {process_id!r} is not deployed: run `caseflow deploy`")
    return row


def script_functions(process_id: str) -> dict[str, Callable[..., Any]]:
    """Return the functions this process's scripts may call (settings read once per run)."""
    memo: dict[str, Any] = {}

    def lookup(key: str) -> Any:
        if key not in memo:
            memo[key] = settings.get(key)
        return memo[key]

    funcs = standard_functions(lookup)
    funcs.update(workflows.functions(process_id))
    return funcs


def warm_up() -> list[str]:
    """Parse the newest deployed version of every process now; return their ids.

    `caseflow serve` calls it before gunicorn forks its workers, so they share the parsed
    specs instead of each parsing them (a second or more) on its first requests.
    """
    ids = list(db.session.scalars(select(ProcessCurrent.version_id)))
    return sorted(parsed(version_id).process_id for version_id in ids)


def start_instance(process_id: str, data: dict[str, Any], actor: Actor,
                   case: Case | None = None) -> Outcome:
    """Start the newest deployed version of `process_id` and record what happened."""
    version = latest_version(process_id)
    process = parsed(version.id)
    with clock.pinned(clock.now()) as now:  # one "now" for the whole unit of work
        run, events = Run.start(process, data, script_functions(process_id))
        state = run.dump()  # once: serialising the state is a tenth of a case's opening
        instance = WorkflowInstance(process_version_id=version.id,
                                    case_id=case.id if case else None, state=state,
                                    status="running", created_at=now, updated_at=now)
        db.session.add(instance)
        db.session.flush()
        return _write_back(instance, run, events, actor, case, completed=None, state=state)


def load(instance: WorkflowInstance) -> Run:
    """Rebuild the Run of an instance from its stored state."""
    process = parsed(instance.process_version_id)
    return Run.load(process, instance.state, script_functions(process.process_id))


class StaleInstance(Conflict, StaleDataError):
    """The instance changed after it was loaded: the unit of work was rolled back.

    A Conflict for callers that show it (409), and a StaleDataError for callers that
    already handle the ORM's version check the same way.
    """

    def __str__(self) -> str:
        return Exception.__str__(self)  # not SQLAlchemy's, which adds a link for `code`


def act(instance: WorkflowInstance, action: Callable[[Run], list[EngineEvent]], actor: Actor,
        case: Case | None = None, completed: TaskRow | None = None) -> Outcome:
    """Run `action` on the loaded instance and write everything back.

    Raises StaleInstance (after rolling the session back) when another transaction changed
    the instance after it was loaded: the loser of a race is refused, never merged.
    """
    loaded_version = instance.version
    with clock.pinned(clock.now()):  # one "now" for the whole unit of work
        run = load(instance)
        if case is None:
            case = _scope_without_case(instance, run.process.process_id)
        events = action(run)
        lock_instance(instance.id, loaded_version)
        return _write_back(instance, run, events, actor, case, completed)


def lock_instance(instance_id: int, loaded_version: int) -> None:
    """Take the instance's write lock before writing; refuse if it changed since loading.

    PostgreSQL locks the row (SELECT ... FOR UPDATE); SQLite takes the database's write
    lock (BEGIN IMMEDIATE, waiting up to busy_timeout) unless this transaction already
    holds it. Locking before the first write keeps one lock order for every unit of work
    (instance, then task and case rows, then the audit head), so writers queue instead of
    deadlocking, and the version is read under the lock, so the check cannot be raced.
    """
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    query = select(INSTANCES.c.version).where(INSTANCES.c.id == instance_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    current = conn.execute(query).scalar()
    if current != loaded_version:
        db.session.rollback()
        raise StaleInstance("someone changed this case at the same time: reload and try again",
                            instance_id=instance_id, loaded=loaded_version, current=current)


CASELESS = ("warning_dissuasion", "class_screening", "screening_round")


def _scope_without_case(instance: WorkflowInstance, process_id: str) -> Any:
    """Give a case-less discovery instance its college, class and counselor (for task rows
    and notices), so a timer fired by the worker is scoped like a person's step."""
    if process_id not in CASELESS:
        return None
    from caseflow.services.screening import any_scope

    return any_scope(instance)


def _write_back(instance: WorkflowInstance, run: Run, events: list[EngineEvent], actor: Actor,
                case: Case | None, completed: TaskRow | None, state: str | None = None
                ) -> Outcome:
    now = clock.now()
    dumped = run.dump() if state is None else state
    if events or dumped != instance.state:
        instance.state, instance.updated_at = dumped, now
    # else nothing happened (a timer another worker fired first): no new version, no write
    if run.completed:
        instance.status = "completed"
    outcome = Outcome(instance, events, data_objects=run.data_objects)
    _sync_tasks(outcome, run, case, completed, now, actor)
    _sync_timers(instance, run, events)
    _record_events(outcome, case, actor, now)
    return outcome


def _sync_tasks(outcome: Outcome, run: Run, case: Case | None, completed: TaskRow | None,
                now: datetime, actor: Actor) -> None:
    # Core statements, not ORM units of work: this runs on every step of every case.
    instance, conn, t = outcome.instance, db.session.connection(), TASKS
    open_rows = {r.spiff_task_id: r for r in conn.execute(
        select(t.c.id, t.c.spiff_task_id, t.c.case_id, t.c.task_spec, t.c.name, t.c.role)
        .where(t.c.instance_id == instance.id, t.c.state == "ready"))}
    ready = {t.id: t for t in run.ready_human_tasks()}
    gone = [r for sid, r in open_rows.items()
            if sid not in ready and not (completed is not None and r.id == completed.id)]
    if gone:
        conn.execute(update(t).where(t.c.id.in_([r.id for r in gone]))
                     .values(state="cancelled", completed_at=now))
    for row in gone:
        outcome.closed.append(TaskRef(row.id, row.task_spec, row.name, row.role))
        audit.record("task_cancelled", audit.SYSTEM, case_id=row.case_id, task_id=row.id,
                     detail={"step": row.task_spec, "name": row.name})
    new_rows = [_task_values(instance, run, task, case, now)
                for sid, task in ready.items() if sid not in open_rows]
    if not new_rows:
        return
    ids = conn.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True),
                       new_rows).scalars().all()
    for task_id, values in zip(ids, new_rows, strict=True):
        outcome.opened.append(TaskRef(task_id, values["task_spec"], values["name"],
                                      values["role"]))
        audit.record("task_opened", audit.SYSTEM, case_id=values["case_id"], task_id=task_id,
                     detail={"step": values["task_spec"], "name": values["name"],
                             "role": values["role"], "due_at": values["due_at"],
                             "due_source": values["due_source"]})


def _task_values(instance: WorkflowInstance, run: Run, task: HumanTask, case: Case | None,
                 now: datetime) -> dict[str, Any]:
    role = workflows.lanes(run.process.process_id).get(task.lane or "")
    role = notify.resolve_role(role) if role else None
    return {
        "instance_id": instance.id, "spiff_task_id": task.id,
        "process_id": run.process.process_id, "case_id": case.id if case else None,
        "process_version_id": instance.process_version_id, "task_spec": task.spec_id,
        "name": task.name, "lane": task.lane, "role": role,
        "college_id": case.college_id if case else None,
        "class_id": case.class_id if case else None, "assignee_id": _assignee(role, case),
        "state": "ready", "created_at": now,
        "due_at": due_from(task.due_value, now) if task.due_value else None,
        "due_source": _due_source(run.process.process_id, task),
    }


def _due_source(process_id: str, task: HumanTask) -> str | None:
    """Say where a due time came from: the school setting the step reads, and its value."""
    if not task.due_value:
        return None
    key = getattr(workflows.describe(process_id), "TASK_KEYS", {}).get(task.spec_id)
    if key and str(task.due_value).startswith("P"):
        return f"setting due.{key} = {task.due_value}"
    return f"{task.properties.get('due')} = {task.due_value}"


def _assignee(role: str | None, case: Case | None) -> int | None:
    if role == "counselor" and case is not None:
        return case.counselor_id
    return None


def _sync_timers(instance: WorkflowInstance, run: Run, events: list[EngineEvent]) -> None:
    conn, t = db.session.connection(), TIMERS
    rows = {r.spiff_task_id: r for r in conn.execute(
        select(t.c.id, t.c.spiff_task_id, t.c.event_id, t.c.due_at)
        .where(t.c.instance_id == instance.id, t.c.state == "waiting"))}
    waiting = {t.task_id: t for t in run.waiting_timers()}
    fired = {e.element_id for e in events if e.type == "timer_fired"}
    now = clock.now()
    for spiff_id, row in rows.items():
        if spiff_id not in waiting:
            # "fired" only if this run fired it: a timer whose task was completed after its
            # due time but before a worker fired it was cancelled, and says so
            state = "fired" if row.event_id in fired and row.due_at <= now else "cancelled"
            conn.execute(update(t).where(t.c.id == row.id).values(state=state, fired_at=now))
    new = [{"instance_id": instance.id, "spiff_task_id": sid, "event_id": t.event_id,
            "due_at": t.due_at, "state": "waiting"}
           for sid, t in waiting.items() if sid not in rows]
    if new:
        conn.execute(insert(t), new)


def _record_events(outcome: Outcome, case: Case | None, actor: Actor, now: datetime) -> None:
    case_id = case.id if case else outcome.instance.case_id
    last_step: tuple[str | None, datetime | None, int | None] = (None, None, None)
    for ev in outcome.events:
        detail = {"element": ev.element_id, "name": ev.name, **ev.detail}
        if ev.type == "timer_fired":
            last_step = _overdue_step(outcome.instance, ev)
        if ev.notify:
            step, due_at, task_id = last_step
            rows = notify.notify(ev.notify, kind=ev.type, case=case, step=step or ev.name,
                                 due_at=due_at, task_id=task_id,
                                 text=_notice_text(case, ev.name, step, due_at))
            detail["notified"] = sorted({r.user_id for r in rows})
            detail["targets"] = list(ev.notify)
        audit.record(ev.type, audit.SYSTEM, case_id=case_id, detail=detail)


def _overdue_step(instance: WorkflowInstance, ev: EngineEvent
                  ) -> tuple[str | None, datetime | None, int | None]:
    attached = ev.detail.get("attached_to")
    if not attached:
        return (None, None, None)
    row = db.session.scalars(
        select(TaskRow).where(TaskRow.instance_id == instance.id, TaskRow.task_spec == attached)
        .order_by(TaskRow.id.desc()).limit(1)).first()
    if row is None:
        return (attached, None, None)
    row.escalated_at = clock.now()
    return (row.name, row.due_at, row.id)


def _notice_text(case: Case | None, event_name: str, step: str | None,
                 due_at: datetime | None) -> str:
    # Case number, step and due time only: never personal data (it may go out by SMS).
    parts = [f"案件 {case.number}" if case else "流程", event_name]
    if step:
        parts.append(f"步骤：{step}")
    if due_at:
        parts.append(f"期限：{timefmt.short(due_at)}")
    return "；".join(parts)
