"""Complete, claim and release human tasks."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from marshmallow import Schema, ValidationError
from sqlalchemy.orm.exc import StaleDataError

import workflows
from caseflow import access, audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import EngineError, ProcessFault
from caseflow.models import Case, TaskRow, User, WorkflowInstance
from caseflow.services import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    cases,
    commit_work,
    confidential,
    faults,
    idempotency,
    inbox,
    runner,
)


def get_task(task_id: int, user: User) -> TaskRow:
    """Load a task the user may work on, or raise NotFound (never say it exists)."""
    row = db.session.get(TaskRow, task_id)
    if row is None or not (access.may_work_on(user, row) or row.state != "ready"
                           and row.completed_by == user.id):
        raise NotFound(f"no task {task_id}")
    return row


def already_done(row: TaskRow) -> Conflict:
    """Return the Conflict that says who completed the task and when."""
    who = db.session.get(User, row.completed_by) if row.completed_by else None
    name = who.display_name if who else "系统"
    verb = "completed" if row.state == "completed" else "closed"
    return Conflict(f"this task was already {verb} by {name} at {row.completed_at}",
                    by=name, at=row.completed_at, state=row.state)


def form_schema(row: TaskRow) -> Schema:
    """Return the form schema of a task's step."""
    schema_cls = workflows.form(row.process_id, row.task_spec)
    if schema_cls is None:
        raise ValidationFailed({"_schema": [f"no form is defined for step {row.task_spec}"]})
    return schema_cls()


def validate(row: TaskRow, data: dict[str, Any], schema: Schema | None = None
             ) -> dict[str, Any]:
    """Validate form data with the task's schema (made unless given); return JSON-native values."""
    schema = schema or form_schema(row)
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(exc.normalized_messages()) from exc
    return schema.dump(loaded)


ATTEMPTS = 3  # a completion that lost a race to a timer or another step is re-run this often


@dataclass(frozen=True)
class Submission:
    """What a form submission did: the task, where to go next, and whether it was a repeat."""

    task: TaskRow
    next_task_id: int | None
    replayed: bool = False


def complete_task(task_id: int, data: dict[str, Any], user: User, actor: Actor,
                  token: str | None = None,
                  before_commit: Callable[[TaskRow], None] | None = None) -> TaskRow:
    """Complete a task once: validate, run the engine, write rows and audit, commit.

    With a submission `token`, a repeated submission returns the task as first completed
    (nothing is committed then, so `before_commit`, see `commit_work`, is not called).
    """
    return _submit(task_id, data, user, actor, token, want_next=False,
                   before_commit=before_commit).task


def submit(task_id: int, data: dict[str, Any], user: User, actor: Actor,
           token: str | None) -> Submission:
    """Complete a task for a form submission; a token used before returns its first outcome."""
    return _submit(task_id, data, user, actor, token, want_next=True)


def _handler(task_id: int, user: User) -> Any:
    """Return the service a process names for completing this step (COMPLETED_BY), if any."""
    row = get_task(task_id, user)
    target = getattr(workflows.describe(row.process_id), "COMPLETED_BY", {}).get(row.task_spec)
    if not target:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _submit(task_id: int, data: dict[str, Any], user: User, actor: Actor, token: str | None,
            want_next: bool, before_commit: Callable[[TaskRow], None] | None = None
            ) -> Submission:
    handler = _handler(task_id, user)
    if handler is not None:  # a step whose completion has effects outside the workflow
        return Submission(handler(task_id, data, user, actor, before_commit=before_commit),
                          None)
    token = idempotency.usable(token)
    if token and (replay := _replay(task_id, token, user)):
        return replay
    try:
        return _complete_retrying(task_id, data, user, actor, token, want_next,
                                  before_commit)
    except Conflict:
        # a double click: the first submission won the race and stored the token
        if token and (replay := _replay(task_id, token, user)):
            return replay
        raise


def _replay(task_id: int, token: str, user: User) -> Submission | None:
    prior = idempotency.find(token, user.id)
    if prior is None:
        return None
    if prior.task_id != task_id:
        raise Conflict("this form was already submitted for another task: reload the page")
    return Submission(db.session.get(TaskRow, task_id), prior.next_task_id, replayed=True)


def _complete_retrying(task_id: int, data: dict[str, Any], user: User, actor: Actor,
                       token: str | None, want_next: bool,
                       before_commit: Callable[[TaskRow], None] | None) -> Submission:
    # Losing the version race to a timer or to another step of the same case is no reason
    # to refuse: re-run the whole unit (access, state, validation) on the new state. If the
    # task itself was completed meanwhile, the re-run says so ("already completed by X").
    for _attempt in range(ATTEMPTS):
        try:
            return _complete_once(task_id, data, user, actor, token, want_next,
                                  before_commit)
        except StaleDataError:
            db.session.rollback()
            row = db.session.get(TaskRow, task_id)
            if row is not None and row.state != "ready":
                raise already_done(row) from None
    raise Conflict("someone changed this case at the same time: reload and try again")


def _complete_once(task_id: int, data: dict[str, Any], user: User, actor: Actor,
                   token: str | None, want_next: bool,
                   before_commit: Callable[[TaskRow], None] | None) -> Submission:
    row = get_task(task_id, user)
    if row.state != "ready":
        raise already_done(row)
    schema = form_schema(row)
    clean = validate(row, data, schema)
    public, secret = confidential.split(schema, clean)
    instance = db.session.get(WorkflowInstance, row.instance_id)
    case = db.session.get(Case, row.case_id) if row.case_id else None
    try:
        refs = confidential.store(secret, case_id=row.case_id, task_id=row.id,
                                  owner_role=row.role or "", user_id=user.id)
        # the workflow keeps a reference to each confidential value, never the text
        public.update({f"{name}_ref": note_id for name, note_id in refs.items()})
        # the person's step first, then what the engine did because of it
        audit.record("task_completed", actor, case_id=row.case_id, task_id=row.id,
                     detail={"step": row.task_spec, "name": row.name,
                             "data": confidential.audit_detail(schema, public, secret)})
        outcome = runner.act(instance, lambda run: run.complete(row.spiff_task_id, public),
                             actor, case=case, completed=row)
        row.state, row.completed_at, row.completed_by = "completed", clock.now(), user.id
        if case is not None:
            cases.mirror(case, outcome, actor)
        nxt = inbox.next_task(user, row.case_id) if want_next else None
        if token:
            idempotency.remember(token, user.id, row.id, nxt)
        commit_work(row, before_commit)
    except EngineError as exc:
        db.session.rollback()
        db.session.refresh(row)
        if row.state != "ready":
            raise already_done(row) from exc
        raise Conflict("someone changed this case at the same time: reload and try again"
                       ) from exc
    except ProcessFault as exc:
        raise faults.failed(exc, actor, case_id=row.case_id, task_id=row.id,
                            instance_id=row.instance_id,
                            doing=f"completing {row.task_spec}") from exc
    return Submission(row, nxt)


def claim(task_id: int, user: User, actor: Actor) -> TaskRow:
    """Take a queued task for yourself."""
    row = _claimable(task_id, user)
    if row.state != "ready":
        raise already_done(row)
    if row.assignee_id not in (None, user.id):
        raise Conflict("someone else claimed this task first")
    # one conditional UPDATE: of two people claiming at once, the database picks one
    updated = db.session.query(TaskRow).filter(
        TaskRow.id == row.id, TaskRow.state == "ready", TaskRow.assignee_id.is_(None)
    ).update({"assignee_id": user.id})
    if not updated:
        db.session.rollback()
        db.session.refresh(row)
        if row.state != "ready":
            raise already_done(row)
        if row.assignee_id == user.id:
            return row  # already yours (a second click): nothing more to record
        raise Conflict("someone else claimed this task first")
    audit.record("task_claimed", actor, case_id=row.case_id, task_id=row.id,
                 detail={"step": row.task_spec})
    db.session.commit()
    return row


def _claimable(task_id: int, user: User) -> TaskRow:
    try:
        return get_task(task_id, user)
    except NotFound:
        # Claimed by a colleague a moment ago: say so, instead of "no such task", to
        # whoever could have taken it from the queue.
        row = db.session.get(TaskRow, task_id)
        if row is not None and row.assignee_id is not None and access.may_work_on(
                user, SimpleNamespace(assignee_id=None, role=row.role, class_id=row.class_id,
                                      college_id=row.college_id)):
            raise Conflict("someone else claimed this task first") from None
        raise


def release(task_id: int, user: User, actor: Actor) -> TaskRow:
    """Put a task you claimed back in its role's queue."""
    row = get_task(task_id, user)
    if row.assignee_id != user.id:
        raise Forbidden("only the person holding a task can release it")
    row.assignee_id = None
    audit.record("task_released", actor, case_id=row.case_id, task_id=row.id,
                 detail={"step": row.task_spec})
    db.session.commit()
    return row
