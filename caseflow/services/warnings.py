"""Police warnings (预警劝阻): enter, match to a student, record the outcome, report.

A warning is matched before any process starts: an exact ID-card or phone number gives
the student; otherwise the name (and college, when given) gives candidates the security
office picks from; with no match the warning stays listed as unmatched until someone
assigns the student by hand. Once matched, a `warning_dissuasion` instance runs; when its
"转个案处置" event passes, this service opens the student's fraud case (or attaches the
finding to the open one) through `cases.register`, never a BPMN script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from statistics import median
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from caseflow import access, audit, clock, timefmt
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import (
    College,
    Klass,
    PoliceWarning,
    Student,
    TaskRow,
    User,
    WarningCandidate,
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
    idempotency,
    runner,
)
from caseflow.services import tasks as task_service
from caseflow.services.screening import Scope, finish_task
from workflows import warning_dissuasion as wd

PROCESS = wd.PROCESS_ID
OPEN_STATES = ("unmatched", "candidates")
MAX_CANDIDATES = 50


def _schema() -> Any:
    return wd.WARNING()


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a warning; return JSON-native values."""
    schema = _schema()
    try:
        clean = schema.dump(schema.load(data))
    except ValidationError as exc:
        raise ValidationFailed(exc.normalized_messages()) from exc
    college_id = clean.get("college_id")
    if college_id is not None and (not 0 < college_id < 2**31
                                   or db.session.get(College, college_id) is None):
        raise ValidationFailed({"college_id": ["no such college"]})
    return clean


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(str(text))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_warning(data: dict[str, Any], user: User | None, actor: Actor,
                source: str = "screen",
                before_commit: Callable[[PoliceWarning], None] | None = None) -> PoliceWarning:
    """Enter a warning and match it; start the dissuasion at once on an exact match.

    `user` None means a system (the CLI, later the police system's API token);
    `before_commit` adds to the transaction (see `commit_work`).
    """
    if user is not None and not access.may_enter_warning(user):
        raise Forbidden("only the security office or the lead office may enter warnings")
    clean = validate(data)
    if clean.get("source_ref"):
        known = db.session.scalar(select(PoliceWarning.number).where(
            PoliceWarning.source == source, PoliceWarning.source_ref == clean["source_ref"]))
        if known:
            raise Conflict(f"police reference {clean['source_ref']} was already entered as "
                           f"warning {known}", number=known)
    now = clock.now()
    warning = PoliceWarning(
        number="", source=source, source_ref=clean.get("source_ref"), phone=clean["phone"],
        id_card=clean["id_card"], name=clean["name"], college_hint_id=clean.get("college_id"),
        warned_at=_time(clean["warned_at"]), fraud_type=clean.get("fraud_type"),
        urgency=clean.get("urgency") or "urgent", note=clean.get("note"), state="unmatched",
        created_by=user.id if user else None, created_at=now, loss_cny=Decimal("0.00"))
    db.session.add(warning)
    db.session.flush()
    warning.number = f"YJ{timefmt.local(now):%Y}{warning.id:06d}"
    audit.record("warning_entered", actor, detail={
        "warning": warning.number, "source": source,
        "data": confidential.audit_detail(_schema(), clean, {})})
    _match(warning, user, actor)
    return commit_work(warning, before_commit)


@dataclass(frozen=True)
class Entry:
    """What an entry form's submission gave: the warning, and whether it was a repeat."""

    warning: PoliceWarning
    repeated: bool = False


def enter(data: dict[str, Any], user: User, actor: Actor, token: str | None) -> Entry:
    """Enter a warning from the entry form, once per form token (see `add_warning`).

    A repeated submission (a double click, a retried POST) enters nothing and returns the
    warning the first one entered; a token of another form raises idempotency.TokenUsed.
    """
    warning, first = idempotency.once(
        "warning", token, user.id,
        lambda keep: add_warning(data, user, actor, before_commit=keep), lambda w: w.id)
    if warning is not None:
        return Entry(warning)
    earlier = db.session.get(PoliceWarning, first)
    if earlier is None:  # cannot happen: warnings are never deleted
        raise NotFound(f"no warning {first}")
    return Entry(earlier, repeated=True)


def _match(warning: PoliceWarning, user: User | None, actor: Actor) -> None:
    exact = _exact(warning)
    students = {s.id: s for s, _ in exact}
    if len(students) == 1 and warning.name in (None, exact[0][0].name):
        student, method = exact[0]
        _start(warning, student, method, user, actor)
        return
    found = exact or [(s, "name_college" if warning.college_hint_id else "name")
                      for s in _by_name(warning)]
    seen: set[int] = set()
    for student, reason in found:
        if student.id not in seen:
            seen.add(student.id)
            db.session.add(WarningCandidate(warning_id=warning.id, student_id=student.id,
                                            reason=reason, picked=False))
    warning.state = "candidates" if seen else "unmatched"
    audit.record("warning_unmatched" if not seen else "warning_candidates_found", actor,
                 detail={"warning": warning.number, "candidates": sorted(seen)})


def _exact(warning: PoliceWarning) -> list[tuple[Student, str]]:
    out: list[tuple[Student, str]] = []
    if warning.id_card:
        out += [(s, "id_card") for s in db.session.scalars(
            select(Student).where(Student.id_card == warning.id_card).limit(MAX_CANDIDATES))]
    if warning.phone:
        out += [(s, "phone") for s in db.session.scalars(
            select(Student).where(Student.phone == warning.phone).limit(MAX_CANDIDATES))]
    return out


def _by_name(warning: PoliceWarning) -> list[Student]:
    if not warning.name:
        return []
    query = select(Student).join(Klass).where(Student.name == warning.name)
    if warning.college_hint_id:
        query = query.where(Klass.college_id == warning.college_hint_id)
    return list(db.session.scalars(query.order_by(Student.student_no).limit(MAX_CANDIDATES)))


def _start(warning: PoliceWarning, student: Student, method: str, user: User | None,
           actor: Actor) -> None:
    now = clock.now()
    warning.student_id, warning.class_id = student.id, student.class_id
    warning.college_id = student.klass.college_id
    warning.match_method, warning.matched_at = method, now
    warning.matched_by = user.id if user else None
    data = {"warning_id": warning.id, "warning_no": warning.number,
            "warned_at": warning.warned_at.isoformat(), "fraud_type": warning.fraud_type,
            "urgency": warning.urgency, "student_status": student.status,
            "away": student.status in wd.AWAY_STATUSES}
    outcome = runner.start_instance(PROCESS, data, actor, case=_scope(warning))  # type: ignore[arg-type]
    warning.instance_id, warning.state = outcome.instance.id, "matched"
    audit.record("warning_matched", actor, detail={
        "warning": warning.number, "student_id": student.id, "method": method})


def _scope(warning: PoliceWarning) -> Scope:
    return Scope(warning.number, warning.college_id, warning.class_id,
                 cases.default_counselor(warning.class_id) if warning.class_id else None)


def _open_warning(warning_id: int, user: User) -> PoliceWarning:
    if not access.may_enter_warning(user):
        raise Forbidden("only the security office or the lead office may resolve warnings")
    warning = db.session.get(PoliceWarning, warning_id)
    if warning is None:
        raise NotFound(f"no warning {warning_id}")
    if warning.state not in OPEN_STATES:
        raise Conflict(f"warning {warning.number} is already matched to a student")
    return warning


def pick_candidate(warning_id: int, student_id: int, user: User, actor: Actor
                   ) -> PoliceWarning:
    """Choose the warning's student among its candidates, and start the dissuasion."""
    warning = _open_warning(warning_id, user)
    candidate = db.session.scalar(select(WarningCandidate).where(
        WarningCandidate.warning_id == warning.id, WarningCandidate.student_id == student_id))
    if candidate is None:
        raise ValidationFailed({"student_id": ["choose one of the warning's candidates"]})
    candidate.picked = True
    _start(warning, candidate.student, "picked", user, actor)
    db.session.commit()
    return warning


def assign_student(warning_id: int, student_id: int, user: User, actor: Actor
                   ) -> PoliceWarning:
    """Resolve an unmatched warning by hand: name its student, and start the dissuasion."""
    warning = _open_warning(warning_id, user)
    student = db.session.get(Student, student_id)
    if student is None:
        raise ValidationFailed({"student_id": [f"no student {student_id}"]})
    _start(warning, student, "manual", user, actor)
    db.session.commit()
    return warning


def open_warnings(user: User) -> list[tuple[PoliceWarning, list[WarningCandidate]]]:
    """List warnings waiting for a student (unmatched or with candidates), oldest first."""
    if not access.may_see_warnings(user):
        raise Forbidden("your role may not see warnings")
    rows = db.session.scalars(select(PoliceWarning).where(PoliceWarning.state.in_(OPEN_STATES))
                              .order_by(PoliceWarning.warned_at)).all()
    found: dict[int, list[WarningCandidate]] = {w.id: [] for w in rows}
    for cand in db.session.scalars(select(WarningCandidate).where(
            WarningCandidate.warning_id.in_(list(found))).order_by(WarningCandidate.id)):
        found[cand.warning_id].append(cand)
    return [(w, found[w.id]) for w in rows]


def instance_scope(instance: WorkflowInstance) -> Scope | None:
    """Return the scope of a dissuasion instance (else None)."""
    warning = db.session.scalar(select(PoliceWarning).where(
        PoliceWarning.instance_id == instance.id))
    return _scope(warning) if warning is not None else None


# -- the outcome ---------------------------------------------------------------------------

def complete_task(task_id: int, data: dict[str, Any], user: User, actor: Actor,
                  before_commit: Callable[[TaskRow], None] | None = None) -> TaskRow:
    """Complete a dissuasion step: reach (and open the case it needs) or police feedback."""
    row = task_service.get_task(task_id, user)
    warning = db.session.scalar(select(PoliceWarning).where(
        PoliceWarning.instance_id == row.instance_id))
    if warning is None:
        raise NotFound(f"no warning task {task_id}")
    outcome, clean = finish_task(row, data, user, actor, _scope(warning))
    if row.task_spec in wd.REACH_TASKS:
        _reached(warning, row, clean, user, actor)
        if any(e.element_id == wd.CASE_EVENT for e in outcome.events):
            _open_case(warning, clean, user, actor)
    elif row.task_spec == wd.FEEDBACK_TASK:
        warning.fed_back_at = _time(clean.get("fed_back_at"))
        warning.state, warning.closed_at = "closed", clock.now()
    return commit_work(row, before_commit)


def _reached(warning: PoliceWarning, row: TaskRow, clean: dict[str, Any], user: User,
             actor: Actor) -> None:
    reached = _time(clean["reached_at"]) or clock.now()
    warning.reached_at, warning.reached_by, warning.reached_role = reached, user.id, row.role
    warning.reached_how = clean.get("reached_how")
    warning.minutes_to_reach = max(0, int((reached - warning.warned_at).total_seconds() // 60))
    warning.dissuaded = bool(clean.get("dissuaded"))
    warning.money_transferred = bool(clean.get("money_transferred"))
    warning.loss_cny = Decimal(str(clean.get("amount_cny") or "0")) \
        if warning.money_transferred else Decimal("0.00")
    warning.took_part = bool(clean.get("took_part"))
    warning.state = "reached"
    audit.record("warning_reached", actor, detail={
        "warning": warning.number, "minutes_to_reach": warning.minutes_to_reach,
        "dissuaded": warning.dissuaded, "by_role": row.role})


def _open_case(warning: PoliceWarning, clean: dict[str, Any], user: User, actor: Actor
               ) -> None:
    facts = {"number": warning.number, "note": warning.note,
             "warned_at": warning.warned_at.isoformat(), "fraud_type": warning.fraud_type}
    try:
        case, _ = cases.register(warning.student_id, wd.case_registration(clean, facts), user,
                                 actor, source="warning")
    except Exception:
        db.session.rollback()  # nothing of the outcome is kept: the task stays open
        raise
    warning.case_id = case.id


# -- reporting -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    """Dissuasion figures of a group of warnings (one college, or the school)."""

    name: str
    warnings: int
    reached: int
    dissuaded: int
    median_minutes: float | None

    @property
    def rate(self) -> float | None:
        """Return the dissuasion rate (劝阻率: dissuaded ÷ warnings)."""
        return self.dissuaded / self.warnings if self.warnings else None


def figures(since: datetime, until: datetime, user: User) -> list[Figures]:
    """Return the school-wide figures, then one line per college (matched warnings)."""
    if not access.may_see_warnings(user):
        raise Forbidden("your role may not see warnings")
    rows = db.session.execute(
        select(PoliceWarning.college_id, College.name, PoliceWarning.reached_at,
               PoliceWarning.dissuaded, PoliceWarning.minutes_to_reach)
        .join(College, College.id == PoliceWarning.college_id, isouter=True)
        .where(PoliceWarning.warned_at >= since, PoliceWarning.warned_at < until)).all()
    groups: dict[Any, list[Any]] = {None: list(rows)}
    for row in rows:
        if row.college_id is not None:
            groups.setdefault((row.college_id, row.name), []).append(row)
    return [_figures("全校" if key is None else key[1], items)
            for key, items in sorted(groups.items(), key=lambda kv: (kv[0] is not None,
                                                                      str(kv[0])))]


def _figures(name: str, rows: list[Any]) -> Figures:
    minutes = [r.minutes_to_reach for r in rows if r.minutes_to_reach is not None]
    return Figures(name, len(rows), sum(1 for r in rows if r.reached_at is not None),
                   sum(1 for r in rows if r.dissuaded), median(minutes) if minutes else None)
