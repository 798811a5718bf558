"""Open cases, attach findings, and keep the case row in step with the case facts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

import workflows
from caseflow import access, audit, clock, timefmt
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import Case, Finding, Student, TaskRow, User
from caseflow.services import (
    Forbidden,
    NotFound,
    ValidationFailed,
    commit_work,
    idempotency,
    runner,
)

CASE_PROCESS = "fraud_case"
OPEN_STATES = ("open",)
FLAG_NAMES = ("major", "need_stop_payment", "need_police", "need_psych",
              "need_parent_contact", "need_discipline", "need_class_lesson")


def _registration_schema() -> Any:
    return workflows.describe(CASE_PROCESS).REGISTRATION


def validate_registration(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a registration (or finding) form; return JSON-native values."""
    schema = _registration_schema()()
    try:
        return schema.dump(schema.load(data))
    except ValidationError as exc:
        raise ValidationFailed(exc.normalized_messages()) from exc


def open_case_of(student_id: int) -> Case | None:
    """Return the student's open case, if any."""
    return db.session.scalars(
        select(Case).where(Case.student_id == student_id, Case.state.in_(OPEN_STATES))
        .order_by(Case.id).limit(1)).first()


def _is_minor(student: Student, today: date) -> bool:
    age = student.age_on(today)
    return age is not None and age < 18


def _repeated_victim(student_id: int) -> bool:
    earlier = db.session.scalar(
        select(Case.id).where(Case.student_id == student_id, Case.category == "victim",
                              Case.withdrawn.is_(False)).limit(1))
    return earlier is not None


def start_data(student: Student, facts: dict[str, Any]) -> dict[str, Any]:
    """Add what caseflow knows about the student to the registration facts."""
    today = timefmt.local(clock.now()).date()
    data = dict(facts)
    data.update({
        "psych_watch": bool(student.psych_watch),
        "hardship": bool(student.hardship),
        "minor": _is_minor(student, today),
        "repeated_victim": bool(facts.get("repeated_victim")) or _repeated_victim(student.id),
        "student_status": student.status,
    })
    return data


def register(student_id: int, data: dict[str, Any], user: User, actor: Actor,
             source: str | None = None,
             before_commit: Callable[[tuple[Case, bool]], None] | None = None
             ) -> tuple[Case, bool]:
    """Register a finding: open a case, or attach it to the student's open case.

    Returns the case and whether it was newly opened; `before_commit` gets them first, to
    add to the transaction (see `commit_work`).
    """
    if not access.may_register(user):
        raise Forbidden("your role may not register cases")
    student = db.session.get(Student, student_id)
    if student is None or not access.may_register_for(user, student):
        raise NotFound(f"no student {student_id}")
    facts = validate_registration({**data, "student_id": student_id})
    existing = open_case_of(student.id)
    if existing is not None:
        attach_finding(existing, facts, user, actor, _paired(before_commit, False))
        return existing, False
    return _open(student, facts, user, actor, source, _paired(before_commit, True)), True


@dataclass(frozen=True)
class Registered:
    """What a registration form's submission gave: the case (`opened` if it is new), and
    whether the submission was a repeat."""

    case: Case
    opened: bool
    repeated: bool = False


def register_form(student_id: int, data: dict[str, Any], user: User, actor: Actor,
                  token: str | None) -> Registered:
    """Register a finding from the registration form, once per form token (see `register`).

    A repeated submission (a double click, a retried POST) registers nothing and returns
    the case the first one opened or added to; a token of another form, or of this form
    for another student, raises idempotency.TokenUsed.
    """
    done, first = idempotency.once(
        "registration", token, user.id,
        lambda keep: register(student_id, data, user, actor, before_commit=keep),
        lambda result: result[0].id)
    if done is not None:
        return Registered(*done)
    case = db.session.get(Case, first)
    if case is None or case.student_id != student_id:
        raise idempotency.TokenUsed(idempotency.USED)
    return Registered(case, opened=False, repeated=True)


def _paired(hook: Callable[[tuple[Case, bool]], None] | None, opened: bool
            ) -> Callable[[Case], None] | None:
    """Give `register`'s hook whether the case was opened, for a step that knows the case."""
    if hook is None:
        return None
    return lambda case: hook((case, opened))


def _open(student: Student, facts: dict[str, Any], user: User, actor: Actor,
          source: str | None, before_commit: Callable[[Case], None] | None = None) -> Case:
    now = clock.now()
    case = Case(
        number="", process_id=CASE_PROCESS, student_id=student.id,
        college_id=student.klass.college_id, class_id=student.class_id,
        counselor_id=default_counselor(student.class_id), registered_by=user.id,
        source=source or facts.get("discovery_source"), category=facts.get("category", ""),
        state="open", registered_at=now, flags="{}",
    )
    db.session.add(case)
    db.session.flush()
    case.number = f"AF{timefmt.local(now):%Y}{case.id:06d}"
    db.session.add(Finding(case_id=case.id, data=audit.canonical(facts), created_at=now,
                           created_by=user.id, opening=True))
    audit.record("case_opened", actor, case_id=case.id,
                 detail={"number": case.number, "student_id": student.id, "facts": facts})
    outcome = runner.start_instance(CASE_PROCESS, start_data(student, facts), actor, case=case)
    mirror(case, outcome, actor)
    return commit_work(case, before_commit)


def attach_finding(case: Case, facts: dict[str, Any], user: User, actor: Actor,
                   before_commit: Callable[[Case], None] | None = None) -> None:
    """Attach a new finding to an open case and re-run triage through the process."""
    db.session.add(Finding(case_id=case.id, data=audit.canonical(facts), created_at=clock.now(),
                           created_by=user.id))
    audit.record("finding_attached", actor, case_id=case.id, detail={"facts": facts})
    instance = case_instance(case)
    outcome = runner.act(instance, lambda run: run.send_message("new_finding", facts),
                         actor, case=case)
    mirror(case, outcome, actor)
    commit_work(case, before_commit)


def case_instance(case: Case) -> Any:
    """Return the workflow instance of a case."""
    from caseflow.models import WorkflowInstance

    instance = db.session.scalars(
        select(WorkflowInstance).where(WorkflowInstance.case_id == case.id)
        .order_by(WorkflowInstance.id).limit(1)).first()
    if instance is None:
        raise NotFound(f"case {case.number} has no process instance")
    return instance


def default_counselor(class_id: int) -> int | None:
    """Return the counselor assigned to a class (the lowest id if several)."""
    from caseflow.models import CounselorClass, UserRole

    return db.session.scalar(
        select(CounselorClass.user_id)
        .join(UserRole, (UserRole.user_id == CounselorClass.user_id)
              & (UserRole.role == "counselor"))
        .where(CounselorClass.class_id == class_id).order_by(CounselorClass.user_id).limit(1))


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value or "0")).quantize(Decimal("0.01"))
    except ArithmeticError:
        return Decimal("0.00")


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mirror(case: Case, outcome: runner.Outcome, actor: Actor) -> None:
    """Copy the case facts into the indexed case row; move counselor tasks on reassignment."""
    facts = outcome.data_objects.get("case_facts")
    if isinstance(facts, dict):
        _copy_facts(case, facts, actor)
    if outcome.instance.status == "completed" and case.state == "open":
        outcome_name = (facts or {}).get("outcome") if isinstance(facts, dict) else None
        case.state = "withdrawn" if outcome_name == "withdrawn" else "closed"
        case.withdrawn = case.state == "withdrawn"
        case.closed_at = clock.now()
        audit.record(f"case_{case.state}", actor, case_id=case.id,
                     detail={"number": case.number})


def _copy_facts(case: Case, facts: dict[str, Any], actor: Actor) -> None:
    case.category = facts.get("category") or case.category
    case.fraud_type = facts.get("fraud_type") or case.fraud_type
    case.behaviour = facts.get("behaviour") or case.behaviour
    case.risk_level = facts.get("risk_override") or facts.get("risk_level") or case.risk_level
    flags = {k: bool(v) for k, v in (facts.get("flags") or {}).items()}
    case.flags = json.dumps(flags, sort_keys=True)
    case.major = bool(flags.get("major"))
    case.loss_cny = _money(facts.get("loss_cny"))
    case.recovered_cny = _money(facts.get("recovered_cny"))
    case.downgraded = bool(facts.get("downgraded"))
    case.happened_at = _time(facts.get("happened_at")) or case.happened_at
    case.discovered_at = _time(facts.get("discovered_at")) or case.discovered_at
    if facts.get("closing_summary"):
        case.summary = str(facts["closing_summary"])
    counselor = facts.get("counselor_id")
    if counselor and int(counselor) != case.counselor_id:
        reassign(case, int(counselor), actor, reason="assigned in the triage review")


def reassign(case: Case, counselor_id: int, actor: Actor, reason: str) -> None:
    """Make `counselor_id` the case's counselor and move its open counselor tasks."""
    before = case.counselor_id
    case.counselor_id = counselor_id
    moved = db.session.query(TaskRow).filter(
        TaskRow.case_id == case.id, TaskRow.state == "ready", TaskRow.role == "counselor"
    ).update({"assignee_id": counselor_id})
    audit.record("case_reassigned", actor, case_id=case.id,
                 detail={"from": before, "to": counselor_id, "reason": reason,
                         "tasks_moved": moved})


def withdraw(case_id: int, reason: str, user: User, actor: Actor) -> Case:
    """Withdraw a case as a false alarm: at once for at-risk cases, else as a request."""
    case = db.session.get(Case, case_id)
    if case is None or not access.may_see_case(user, case):
        raise NotFound(f"no case {case_id}")
    if not access.may_withdraw(user, case):
        raise Forbidden("only the college officer of the case may withdraw it")
    if not reason.strip():
        raise ValidationFailed({"reason": ["give the reason"]})
    if case.state != "open":
        raise ValidationFailed({"reason": [f"the case is already {case.state}"]})
    audit.record("withdrawal_requested", actor, case_id=case.id,
                 detail={"reason": reason.strip(), "category": case.category})
    outcome = runner.act(case_instance(case), lambda run: run.send_message(
        "withdraw", {"reason": reason.strip(), "by": user.id}), actor, case=case)
    mirror(case, outcome, actor)
    db.session.commit()
    return case
