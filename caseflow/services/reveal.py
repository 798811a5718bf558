"""Reveal one masked number (phone, ID card, bank account) to a person allowed to see it.

The person states a purpose; the value is shown once and `field_revealed` is written with
who, which field, of which case/student, and why (the value itself only masked, with a
keyed digest). Anything out of scope or not allowed is refused like a missing object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

import workflows
from caseflow import access, audit, masking, security
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import Case, Guardian, Student, TaskRow, User, WorkflowInstance
from caseflow.services import ValidationFailed, runner

FIELDS = ("phone", "guardian_phone", "id_card", "task_field")
PURPOSE_MIN, PURPOSE_MAX = 2, 500


@dataclass
class Target:
    """One masked number: where it is, and the kind of number (the rule that applies)."""

    field: str  # phone, guardian_phone, id_card or task_field
    kind: str  # phone, id_card or bank_account: what masking.mask and access see
    student: Student
    case: Case | None = None
    guardian: Guardian | None = None
    task: TaskRow | None = None
    name: str | None = None  # the form field of a task
    label: str | None = None  # the form field's label (for task fields)


def sensitive_fields(process_id: str, task_spec: str) -> dict[str, tuple[str, Any]]:
    """Return a step's form fields marked sensitive: name → (kind, label metadata)."""
    try:
        schema_cls = workflows.form(process_id, task_spec)
    except workflows.UnknownProcess:
        return {}
    if schema_cls is None:
        return {}
    return {name: (f.metadata["sensitive"], f.metadata.get("label"))
            for name, f in schema_cls().fields.items() if f.metadata.get("sensitive")}


def _rule(field: str, kind: str) -> str:
    return "reveal:" + ("guardian_phone" if field == "guardian_phone" else kind)


def for_case(case_id: int, field: str, user: User, actor: Actor, guardian_id: int | None = None,
             task_id: int | None = None, name: str | None = None) -> Target:
    """Find a number of a case that `user` may reveal; else refuse (audited NotFound)."""
    case = access.get_case(case_id, user, actor=actor)
    target = _locate(field, case.student, case, guardian_id, task_id, name)
    if target is None or not access.may(user, _rule(target.field, target.kind), case):
        raise access.refuse("field", case_id, actor, case_id=case.id,
                            detail={"field": field, "need": "reveal"})
    return target


def for_student(student_id: int, field: str, user: User, actor: Actor,
                guardian_id: int | None = None) -> Target:
    """Find a number of a student that `user` may reveal; else refuse (audited NotFound)."""
    student = access.get_student(student_id, user, actor=actor)
    target = _locate(field, student, None, guardian_id, None, None)
    if target is None or not access.may(user, _rule(target.field, target.kind), student):
        raise access.refuse("field", student_id, actor,
                            detail={"field": field, "student": student_id, "need": "reveal"})
    return target


def _locate(field: str, student: Student, case: Case | None, guardian_id: int | None,
            task_id: int | None, name: str | None) -> Target | None:
    if field == "phone" and student.phone:
        return Target(field, "phone", student, case)
    if field == "id_card" and student.id_card:
        return Target(field, "id_card", student, case)
    if field == "guardian_phone":
        guardian = db.session.get(Guardian, guardian_id) if guardian_id else None
        if guardian is not None and guardian.student_id == student.id and guardian.phone:
            return Target(field, "phone", student, case, guardian=guardian)
        return None
    if field == "task_field" and case is not None and task_id and name:
        task = db.session.get(TaskRow, task_id)
        if task is None or task.case_id != case.id or task.state != "completed":
            return None
        found = sensitive_fields(task.process_id, task.task_spec).get(name)
        if found is None:
            return None
        return Target(field, found[0], student, case, task=task, name=name,
                      label=label_text(found[1]))
    return None


def label_text(label: Any) -> str | None:
    """Return a form field's label as text (Chinese first)."""
    if isinstance(label, dict):
        return str(label.get("zh") or label.get("en") or "")
    return str(label) if label else None


def value(target: Target) -> str:
    """Return the clear value of a target ('' when it is not available any more)."""
    if target.field == "phone":
        return target.student.phone or ""
    if target.field == "id_card":
        return target.student.id_card or ""
    if target.field == "guardian_phone":
        return (target.guardian.phone if target.guardian else "") or ""
    return _task_value(target)


def _task_value(target: Target) -> str:
    task = target.task
    if task is None or target.name is None:
        return ""
    instance = db.session.get(WorkflowInstance, task.instance_id)
    if instance is None:
        return ""
    try:
        data = runner.load(instance).task_data(task.spiff_task_id)
    except Exception:  # the task was pruned from the instance: nothing to show
        return ""
    found = data.get(target.name)
    return str(found) if found not in (None, "") else ""


def masked(target: Target) -> str:
    """Return the target's value masked, as every screen shows it."""
    return masking.mask(target.kind, value(target))


def reveal(target: Target, purpose: str, actor: Actor) -> str:
    """Record why the number is looked at (`field_revealed`), then return it in clear."""
    purpose = security.mask_text(" ".join(purpose.split()))
    if not PURPOSE_MIN <= len(purpose) <= PURPOSE_MAX:
        raise ValidationFailed({"purpose": [
            f"State the purpose in {PURPOSE_MIN} to {PURPOSE_MAX} characters."]})
    clear = value(target)
    key = str(current_app.config["AUDIT_KEY"]).encode()
    detail: dict[str, Any] = {
        "field": target.kind, "source": target.field, "student_id": target.student.id,
        "purpose": purpose, "masked": masking.mask(target.kind, clear),
        "digest": audit.keyed_digest(clear, key) if clear else None}
    if target.guardian is not None:
        detail["guardian_id"] = target.guardian.id
    if target.name:
        detail["name"] = target.name
    audit.record("field_revealed", actor, case_id=target.case.id if target.case else None,
                 task_id=target.task.id if target.task else None, detail=detail)
    db.session.commit()
    return clear

