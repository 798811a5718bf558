"""What the police-warning screens show: the open and recent warnings, one warning's page.

Reads only; entering and resolving warnings is `caseflow.services.warnings`. Who may look
is `access.may_see_warnings`; a linked case is shown only to those who may open it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from caseflow import access, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import (
    Case,
    College,
    Klass,
    PoliceWarning,
    Student,
    TaskRow,
    User,
    WarningCandidate,
)
from caseflow.services import Forbidden, ValidationFailed
from caseflow.services import warnings as warning_service

# A second identical warning by the same person this soon after is taken as a double submit.
DOUBLE_SUBMIT = timedelta(minutes=2)


@dataclass
class WarningRow:
    """A warning with its student (if matched), place, visible case and candidates."""

    warning: PoliceWarning
    student: Student | None = None
    klass: Klass | None = None
    college: College | None = None
    case: Case | None = None
    candidates: list[WarningCandidate] = field(default_factory=list)
    may_see_student: bool = False

    @property
    def age_minutes(self) -> int:
        """Return how many whole minutes ago the police warned."""
        return max(0, int((clock.now() - self.warning.warned_at).total_seconds() // 60))


def _check(user: User) -> None:
    if not access.may_see_warnings(user):
        raise Forbidden("your role may not see warnings")


def _row(warning: PoliceWarning, user: User,
         candidates: list[WarningCandidate] | None = None) -> WarningRow:
    row = WarningRow(warning, candidates=list(candidates or []))
    if warning.student_id is not None:
        row.student = db.session.get(Student, warning.student_id)
        row.klass = db.session.get(Klass, row.student.class_id) if row.student else None
        row.college = db.session.get(College, row.klass.college_id) if row.klass else None
        row.may_see_student = row.student is not None and access.may_see_student(
            user, row.student)
    if warning.case_id is not None:
        case = db.session.get(Case, warning.case_id)
        row.case = case if case is not None and access.may_see_case(user, case) else None
    return row


def open_rows(user: User) -> list[WarningRow]:
    """Return the warnings still waiting for a student, oldest first, with candidates."""
    return [_row(w, user, cands) for w, cands in warning_service.open_warnings(user)]


def open_count(user: User) -> int:
    """Return how many warnings wait for a student (0 for those who may not see them)."""
    if not access.may_see_warnings(user):
        return 0
    return int(db.session.scalar(select(func.count(PoliceWarning.id)).where(
        PoliceWarning.state.in_(warning_service.OPEN_STATES))) or 0)


def recent(user: User, page: int, size: int) -> tuple[list[WarningRow], int]:
    """Return one page of the matched warnings, newest first, and how many there are."""
    _check(user)
    matched = PoliceWarning.state.not_in(warning_service.OPEN_STATES)
    total = int(db.session.scalar(select(func.count(PoliceWarning.id)).where(matched)) or 0)
    rows = db.session.scalars(select(PoliceWarning).where(matched)
                              .order_by(PoliceWarning.warned_at.desc(), PoliceWarning.id.desc())
                              .offset((page - 1) * size).limit(size))
    return [_row(w, user) for w in rows], total


@dataclass
class WarningPage:
    """One warning, its candidates, and the steps of its dissuasion."""

    row: WarningRow
    steps: list[TaskRow]
    entered_by: User | None
    college_hint: College | None


def page(warning_id: int, user: User, actor: Actor) -> WarningPage:
    """Load one warning for its page; refuse (audited, NotFound) those who may not see it."""
    warning = db.session.get(PoliceWarning, warning_id)
    if warning is None or not access.may_see_warnings(user):
        raise access.refuse("warning", warning_id, actor)
    candidates = list(db.session.scalars(select(WarningCandidate).where(
        WarningCandidate.warning_id == warning.id).order_by(WarningCandidate.id)))
    steps: list[TaskRow] = []
    if warning.instance_id is not None:
        steps = list(db.session.scalars(select(TaskRow).where(
            TaskRow.instance_id == warning.instance_id).order_by(TaskRow.created_at,
                                                                 TaskRow.id)))
    return WarningPage(
        _row(warning, user, candidates), steps,
        db.session.get(User, warning.created_by) if warning.created_by else None,
        db.session.get(College, warning.college_hint_id) if warning.college_hint_id else None)


def id_of(number: str | None) -> int | None:
    """Return the id of the warning numbered `number`, if there is one."""
    if not number:
        return None
    return db.session.scalar(select(PoliceWarning.id).where(PoliceWarning.number == number))


def just_entered(data: dict[str, Any], user: User) -> PoliceWarning | None:
    """Return the same warning entered by `user` moments ago (a double submit), if any."""
    try:
        clean = warning_service.validate(data)
    except ValidationFailed:
        return None  # add_warning reports the errors
    if clean.get("source_ref"):
        return None  # the police reference guards these (Conflict)
    warned_at = datetime.fromisoformat(str(clean["warned_at"]))
    warned_at = warned_at if warned_at.tzinfo else warned_at.replace(tzinfo=UTC)
    found = db.session.scalars(select(PoliceWarning).where(
        PoliceWarning.created_by == user.id,
        PoliceWarning.created_at >= clock.now() - DOUBLE_SUBMIT,
        PoliceWarning.source == "screen").order_by(PoliceWarning.id.desc()))
    same = (clean["phone"], clean["id_card"], clean["name"], clean.get("fraud_type"))
    for warning in found:
        if (warning.phone, warning.id_card, warning.name, warning.fraud_type) == same \
                and warning.warned_at == warned_at:
            return warning
    return None
