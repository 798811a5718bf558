"""Screening rounds (涉诈隐患摸排): start a round, take in each class's sheet, list the gaps.

A round is many small instances (DESIGN.md): one `class_screening` per class in scope and
one `screening_round` (the college officer's review) per college; rows in
`screening_class` / `screening_entry` track progress, so nothing here loads 800 workflows.
These instances have no case: their task rows and notices get their college, class and
counselor from a `Scope`, which the runner reads like a case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from caseflow import access, audit, clock, settings, timefmt
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import EngineError, duration
from caseflow.models import (
    College,
    Klass,
    Lookup,
    ScreeningClass,
    ScreeningCollege,
    ScreeningRound,
    Student,
    TaskRow,
    User,
    WorkflowInstance,
)
from caseflow.services import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    cases,
    commit_work,
    confidential,
    runner,
    sheets,
)
from caseflow.services import tasks as task_service

COHORTS = ("all", "freshmen", "interns", "key_groups")
CLASS_PROCESS, ROUND_PROCESS = "class_screening", "screening_round"
PROCESSES = (CLASS_PROCESS, ROUND_PROCESS, "warning_dissuasion")
ENDED = ("毕业",)  # graduates are no longer screened


@dataclass(frozen=True)
class Scope:
    """Where a case-less instance's tasks and notices belong; the runner reads it like a case.

    `number` names the instance in notices (they carry no personal data); `id` is None,
    so no task row, notice or audit event points at a case.
    """

    number: str
    college_id: int | None
    class_id: int | None = None
    counselor_id: int | None = None
    id: None = None


def finish_task(row: TaskRow, data: dict[str, Any], user: User, actor: Actor,
                scope: Scope | None) -> tuple[runner.Outcome, dict[str, Any]]:
    """Complete a task row of a case-less process (validated, audited); the caller commits.

    Returns what the engine did and the validated form data.
    """
    if row.state != "ready":
        raise task_service.already_done(row)
    schema = task_service.form_schema(row)
    clean = task_service.validate(row, data, schema)
    instance = db.session.get(WorkflowInstance, row.instance_id)
    try:
        outcome = runner.act(instance, lambda run: run.complete(row.spiff_task_id, clean),
                             actor, case=scope, completed=row)  # type: ignore[arg-type]
    except (StaleDataError, EngineError) as exc:
        db.session.rollback()
        db.session.refresh(row)
        raise (task_service.already_done(row) if row.state != "ready" else Conflict(
            "someone changed this at the same time: reload and try again")) from exc
    row.state, row.completed_at, row.completed_by = "completed", clock.now(), user.id
    detail = confidential.audit_detail(schema, clean, {})
    audit.record("task_completed", actor, task_id=row.id,
                 detail={"step": row.task_spec, "name": row.name, "data": detail})
    return outcome, clean


# -- starting a round ------------------------------------------------------------------

def _due(key: str) -> timedelta:
    return duration(settings.get(f"due.{key}")["yellow"])


def _cohort_filter(cohort: str, college_id: int | None, grade: int | None
                   ) -> ColumnElement[bool]:
    conds = [Student.status.not_in(ENDED)]
    if college_id is not None:
        conds.append(Klass.college_id == college_id)
    if cohort == "freshmen":
        conds.append(Klass.grade == grade)
    elif cohort == "interns":
        conds.append(Student.status == "实习")
    elif cohort == "key_groups":
        conds.append(Student.hardship | Student.academic_difficulty | Student.psych_watch)
    return and_(*conds)


def round_filter(rnd: ScreeningRound) -> ColumnElement[bool]:
    """Return the SQL condition (on Student joined to Klass) of a round's scope."""
    return _cohort_filter(rnd.cohort, rnd.college_id, rnd.grade)


def start_round(user: User | None, actor: Actor, cohort: str = "all",
                college_code: str | None = None, due_days: int | None = None,
                trigger: str = "manual", auto_key: str | None = None) -> ScreeningRound:
    """Start a round: one class screening per class in scope, one review per college.

    `user` None means the system (the CLI or the worker's timer); a person must hold the
    lead office.
    """
    if user is not None and not access.may_start_round(user):
        raise Forbidden("only the lead office may start a screening round")
    if cohort not in COHORTS:
        raise ValidationFailed({"cohort": [f"choose one of {', '.join(COHORTS)}"]})
    college = _college(college_code)
    now = clock.now()
    grade = db.session.scalar(select(func.max(Klass.grade))) if cohort == "freshmen" else None
    due_at = now + (timedelta(days=due_days) if due_days else _due("screening_round"))
    condition = _cohort_filter(cohort, college.id if college else None, grade)
    per_class = dict(db.session.execute(
        select(Student.class_id, func.count(Student.id)).join(Klass)
        .where(condition).group_by(Student.class_id)).all())
    if not per_class:
        raise ValidationFailed({"cohort": ["no student is in this round's scope"]})
    rnd = ScreeningRound(number="", cohort=cohort, college_id=college.id if college else None,
                         grade=grade, trigger=trigger, auto_key=auto_key, started_at=now,
                         started_by=user.id if user else None, due_at=due_at,
                         classes=len(per_class), students=sum(per_class.values()))
    db.session.add(rnd)
    db.session.flush()
    rnd.number = f"MP{timefmt.local(now):%Y}{rnd.id:04d}"
    classes = db.session.scalars(select(Klass).where(Klass.id.in_(per_class))
                                 .order_by(Klass.college_id, Klass.code)).all()
    for college_id in sorted({k.college_id for k in classes}):
        _start_review(rnd, college_id, actor)
    for klass in classes:
        _start_class(rnd, klass, per_class[klass.id], actor)
    audit.record("screening_round_started", actor, detail={
        "round": rnd.number, "cohort": cohort, "college": college_code, "grade": grade,
        "trigger": trigger, "due_at": due_at, "classes": rnd.classes,
        "students": rnd.students})
    db.session.commit()
    return rnd


def _college(code: str | None) -> College | None:
    if not code:
        return None
    college = db.session.scalar(select(College).where(College.code == code))
    if college is None:
        raise NotFound(f"no college {code!r}")
    return college


def _start_review(rnd: ScreeningRound, college_id: int, actor: Actor) -> None:
    code = db.session.scalar(select(College.code).where(College.id == college_id))
    data = {"round_id": rnd.id, "round_no": rnd.number, "college_id": college_id,
            "college_code": code, "round_due_at": rnd.due_at.isoformat()}
    scope = Scope(f"{rnd.number} {code}", college_id)
    outcome = runner.start_instance(ROUND_PROCESS, data, actor, case=scope)  # type: ignore[arg-type]
    db.session.add(ScreeningCollege(round_id=rnd.id, college_id=college_id,
                                    instance_id=outcome.instance.id))


def _start_class(rnd: ScreeningRound, klass: Klass, students: int, actor: Actor) -> None:
    counselor = cases.default_counselor(klass.id)
    data = {"round_id": rnd.id, "round_no": rnd.number, "class_id": klass.id,
            "class_code": klass.code, "due_at": rnd.due_at.isoformat(), "students": students}
    scope = Scope(f"{rnd.number} {klass.code}", klass.college_id, klass.id, counselor)
    outcome = runner.start_instance(CLASS_PROCESS, data, actor, case=scope)  # type: ignore[arg-type]
    db.session.add(ScreeningClass(
        round_id=rnd.id, class_id=klass.id, college_id=klass.college_id,
        counselor_id=counselor, instance_id=outcome.instance.id,
        task_id=outcome.opened[0].id if outcome.opened else None, state="open",
        students=students, due_at=rnd.due_at, talked=0, flagged=0, not_reached=0))


def start_if_due(now: datetime | None = None) -> ScreeningRound | None:
    """Start a school-wide round when the last one is `screening_cycle` old (the timer).

    The first round is started by the lead office; after it, every cycle starts the next.
    """
    now = now or clock.now()
    last = db.session.scalar(select(func.max(ScreeningRound.started_at)).where(
        ScreeningRound.cohort == "all", ScreeningRound.college_id.is_(None)))
    if last is None:
        return None
    due = last + duration(str(settings.get("screening_cycle")))
    if due > now:
        return None
    key = f"cycle:{timefmt.local(due):%Y-%m-%d}"
    try:
        with clock.pinned(now):
            return start_round(None, audit.Actor(None, "timer"), trigger="timer", auto_key=key)
    except IntegrityError:  # another worker started this cycle's round first
        db.session.rollback()
        return None


def instance_scope(instance: WorkflowInstance) -> Scope | None:
    """Return the scope of a class screening or college review instance (else None)."""
    sc = db.session.scalar(select(ScreeningClass).where(
        ScreeningClass.instance_id == instance.id))
    if sc is not None:
        number = db.session.scalar(select(ScreeningRound.number).where(
            ScreeningRound.id == sc.round_id))
        return Scope(f"{number} {sc.klass.code}", sc.college_id, sc.class_id, sc.counselor_id)
    row = db.session.execute(
        select(ScreeningRound.number, College.code, ScreeningCollege.college_id)
        .join(ScreeningCollege, ScreeningCollege.round_id == ScreeningRound.id)
        .join(College, College.id == ScreeningCollege.college_id)
        .where(ScreeningCollege.instance_id == instance.id)).first()
    return Scope(f"{row[0]} {row[1]}", row[2]) if row else None


def any_scope(instance: WorkflowInstance) -> Scope | None:
    """Return the scope of any case-less discovery instance (screening or warning)."""
    from caseflow.services import warnings

    return instance_scope(instance) or warnings.instance_scope(instance)


def scope_open_tasks(scopes: Callable[[WorkflowInstance], Any] = any_scope) -> int:
    """Give open tasks of case-less discovery instances their college, class and assignee.

    Tasks a timer opens (follow-up reminders) are written by the worker without a scope;
    the worker job calls this right after firing timers. Returns how many rows it fixed.
    """
    rows = db.session.scalars(select(TaskRow).where(
        TaskRow.state == "ready", TaskRow.case_id.is_(None), TaskRow.college_id.is_(None),
        TaskRow.process_id.in_(PROCESSES))).all()
    fixed = 0
    for row in rows:
        scope = scopes(db.session.get(WorkflowInstance, row.instance_id))
        if scope is None or scope.college_id is None:
            continue
        row.college_id, row.class_id, fixed = scope.college_id, scope.class_id, fixed + 1
        if row.role == "counselor" and row.assignee_id is None:
            row.assignee_id = scope.counselor_id
    if fixed:
        db.session.commit()
    return fixed


def worker_job(now: datetime | None = None) -> tuple[int, int, ScreeningRound | None]:
    """The worker's discovery job, run after each round of firing timers.

    Scopes the tasks timers opened, opens the cases of flagged students an import left
    to it, then starts the next school-wide round when due. Returns (tasks scoped, cases
    opened or attached, round started or None).
    """
    from caseflow.services import screening_import

    scoped = scope_open_tasks()
    filed = sum(screening_import.file_pending())
    return scoped, filed, start_if_due(now)


# -- the college officer's review ----------------------------------------------------------

def review_round(task_id: int, data: dict[str, Any], user: User, actor: Actor,
                 before_commit: Callable[[TaskRow], None] | None = None) -> TaskRow:
    """Complete a college's round review and note who reviewed it when."""
    row = task_service.get_task(task_id, user)
    part = db.session.scalar(select(ScreeningCollege).where(
        ScreeningCollege.instance_id == row.instance_id))
    if part is None:
        raise NotFound(f"no round review {task_id}")
    scope = instance_scope(db.session.get(WorkflowInstance, row.instance_id))
    finish_task(row, data, user, actor, scope)
    part.reviewed_at, part.reviewed_by = clock.now(), user.id
    return commit_work(row, before_commit)


def max_upload() -> int:
    """Return the largest upload accepted, in bytes (the app's MAX_CONTENT_LENGTH)."""
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 5 * 1024 * 1024)


def vocab() -> sheets.Vocab:
    """Return the fraud types and behaviours a sheet may name (labels or codes)."""
    items = db.session.execute(select(Lookup.kind, Lookup.code, Lookup.label_zh, Lookup.label_en)
                               .where(Lookup.kind.in_(("fraud_type", "behaviour")),
                                      Lookup.active.is_(True)).order_by(Lookup.sort)).all()
    maps: dict[str, dict[str, str]] = defaultdict(dict)
    labels: dict[str, list[str]] = defaultdict(list)
    for kind, code, zh, en in items:
        maps[kind].update({code: code, en: code, zh: code})
        labels[kind].append(zh)
    return sheets.Vocab(maps["fraud_type"], maps["behaviour"], tuple(labels["fraud_type"]),
                        tuple(labels["behaviour"]))
