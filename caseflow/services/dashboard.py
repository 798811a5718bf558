"""The work figures (overdue tasks, stop-payment response, psych referrals, police
warnings, screening rounds) and the assembled dashboard of one scope and period.

Task figures come from task rows, psych outcomes from the audit trail (the completed
referral step's recorded answer), warnings and screening from their own tables; every
query is an indexed aggregate or a narrow, period-bounded row fetch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import ColumnElement, and_, case, func, or_, select, union

from caseflow import access, clock, settings
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Case,
    College,
    Klass,
    PoliceWarning,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
    TaskRow,
)
from caseflow.services import reports
from caseflow.services.periods import Period
from caseflow.services.reports import CaseFigures, Scope

DECLINED = '%"accept":"decline"%'  # canonical JSON of the completed psych_accept step


def _tasks_in(scope: Scope) -> list[ColumnElement[bool]]:
    conds = scope.on(TaskRow.college_id, TaskRow.class_id)
    if not reports.sees_school(scope.user):
        conds.append(or_(TaskRow.case_id.is_(None), TaskRow.case_id.in_(
            select(Case.id).where(access.case_filter(scope.user)))))
    return conds


def overdue_branches(p: Period, at: datetime) -> list[ColumnElement[bool]]:
    """Return the two disjoint ways a task was open past its due time in the period."""
    still_open = and_(TaskRow.state == "ready", TaskRow.due_at < min(p.end, at))
    ended_late = and_(TaskRow.completed_at > p.start, TaskRow.state != "ready",
                      TaskRow.due_at < p.end, TaskRow.completed_at > TaskRow.due_at)
    return [still_open, ended_late]


def overdue_condition(p: Period, at: datetime) -> ColumnElement[bool]:
    """Return 'the task was open past its due time at some moment of the period'."""
    return or_(*overdue_branches(p, at))


@dataclass
class Overdue:
    """Tasks overdue in the period, by step and by college."""

    by_step: list[tuple[str, str, int]] = field(default_factory=list)  # spec, name, n
    by_college: list[tuple[int | None, str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Return how many tasks were overdue."""
        return sum(n for *_, n in self.by_step)


def overdue(scope: Scope, p: Period, at: datetime, names: dict[int, str]) -> Overdue:
    """Count the tasks overdue in the period, by step and by college."""
    cols = (TaskRow.college_id, TaskRow.task_spec)  # college first: see ix_task_*_report
    rows = [row for branch in overdue_branches(p, at) for row in db.session.execute(
        select(*cols, func.count()).where(branch, *_tasks_in(scope)).group_by(*cols))]
    steps: dict[str, int] = defaultdict(int)
    colleges: dict[int | None, int] = defaultdict(int)
    for college_id, spec, n in rows:
        steps[spec] += n
        colleges[college_id] += n
    titles = _step_names(list(steps))
    out = Overdue([(spec, titles.get(spec, spec), n)
                   for spec, n in sorted(steps.items(), key=lambda kv: (-kv[1], kv[0]))])
    out.by_college = [(cid, names.get(cid or 0, "—"), n) for cid, n in
                      sorted(colleges.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]
    return out


def _step_names(specs: list[str]) -> dict[str, str]:
    """Return a display name per task spec (from one of its rows)."""
    return {spec: db.session.scalar(select(TaskRow.name).where(TaskRow.task_spec == spec)
                                    .limit(1)) or spec for spec in specs}


@dataclass
class Timing:
    """Response times of one kind of step opened in the period (seconds)."""

    count: int = 0
    done: int = 0
    median_s: float | None = None
    worst_s: float | None = None

    @property
    def waiting(self) -> int:
        """Return how many are not done yet."""
        return self.count - self.done


def stop_payment(scope: Scope, p: Period) -> Timing:
    """Return the stop-payment response time: the task's opening → completion."""
    rows = db.session.execute(
        select(reports.raw_time(TaskRow.created_at), reports.raw_time(TaskRow.completed_at),
               TaskRow.state)
        .join(Case, Case.id == TaskRow.case_id)
        .where(TaskRow.task_spec == "stop_payment", TaskRow.state != "cancelled",
               reports.between(TaskRow.created_at, p.start, p.end), *scope.cases())).all()
    spans = [reports.seconds_between(opened, done) for opened, done, state in rows
             if state == "completed" and done is not None]
    return Timing(len(rows), len(spans), median(spans) if spans else None,
                  max(spans) if spans else None)


def _answered() -> list[ColumnElement[bool]]:
    """Completed referral steps (ix_task_spec_completed: spec, state, completion time)."""
    return [TaskRow.task_spec == "psych_accept", TaskRow.state == "completed"]


def psych_referrals(scope: Scope, p: Period) -> dict[str, int]:
    """Count psych referrals answered in the period: accepted and declined."""
    answered = select(TaskRow.id).join(Case, Case.id == TaskRow.case_id).where(
        reports.between(TaskRow.completed_at, p.start, p.end), *_answered(), *scope.cases())
    outcome = case((AuditEvent.detail.like(DECLINED), "declined"), else_="accepted")
    rows = db.session.execute(
        select(outcome, func.count(func.distinct(AuditEvent.task_id)))
        .where(AuditEvent.task_id.in_(answered),
               func.coalesce(AuditEvent.event_type, "") == "task_completed")
        .group_by(outcome)).all()
    return {"accepted": 0, "declined": 0, **dict(rows)}


# -- police warnings ---------------------------------------------------------------------


@dataclass
class WarningLine:
    """Warning figures of one college (matched warnings) or of the whole scope."""

    college_id: int | None
    name: str
    warnings: int = 0
    reached: int = 0
    dissuaded: int = 0
    within: int = 0
    minutes: list[float] = field(default_factory=list)

    @property
    def median_minutes(self) -> float | None:
        """Return the median warning-to-reach time in minutes."""
        return median(self.minutes) if self.minutes else None

    @property
    def within_share(self) -> float | None:
        """Return the share of warnings reached within the reach time (of all warnings)."""
        return self.within / self.warnings if self.warnings else None

    @property
    def rate(self) -> float | None:
        """Return the dissuasion rate (劝阻率: dissuaded ÷ warnings)."""
        return self.dissuaded / self.warnings if self.warnings else None


def reach_limit() -> timedelta:
    """Return the warning reach time (a setting, 30 minutes by default)."""
    value = settings.get("due.warning_reach")
    text = value.get("red") if isinstance(value, dict) else value
    return settings.duration_timedelta(str(text))


def warnings(scope: Scope, p: Period, names: dict[int, str]) -> list[WarningLine]:
    """Return the scope's line (all warnings), then one line per college (matched ones)."""
    limit = reach_limit()
    rows = db.session.execute(
        select(PoliceWarning.college_id, PoliceWarning.warned_at, PoliceWarning.reached_at,
               PoliceWarning.dissuaded)
        .where(reports.between(PoliceWarning.warned_at, p.start, p.end),
               *scope.on(PoliceWarning.college_id, PoliceWarning.class_id))).all()
    total = WarningLine(None, "")
    lines: dict[int, WarningLine] = {}
    for cid, warned, reached, dissuaded in rows:
        targets = [total]
        if cid is not None:
            targets.append(lines.setdefault(cid, WarningLine(cid, names.get(cid, f"#{cid}"))))
        for line in targets:
            line.warnings += 1
            line.dissuaded += 1 if dissuaded else 0
            if reached is not None:
                line.reached += 1
                line.minutes.append((reached - warned).total_seconds() / 60)
                line.within += 1 if reached - warned <= limit else 0
    return [total, *(lines[k] for k in sorted(lines))]


# -- screening rounds --------------------------------------------------------------------


@dataclass
class LateClass:
    """A class whose screening in a round of the period was (or is) late."""

    round_number: str
    class_name: str
    college: str
    due_at: datetime
    done_at: datetime | None


def late_screening(scope: Scope, p: Period, at: datetime) -> list[LateClass]:
    """List the classes screened late, or not yet screened past the due date."""
    rows = db.session.execute(
        select(ScreeningRound.number, Klass.name, College.name, ScreeningClass.due_at,
               ScreeningClass.done_at)
        .join(ScreeningRound, ScreeningRound.id == ScreeningClass.round_id)
        .join(Klass, Klass.id == ScreeningClass.class_id)
        .join(College, College.id == ScreeningClass.college_id)
        .where(reports.between(ScreeningRound.started_at, p.start, p.end),
               *scope.on(ScreeningClass.college_id, ScreeningClass.class_id),
               or_(and_(ScreeningClass.state == "open", ScreeningClass.due_at < at),
                   ScreeningClass.done_at > ScreeningClass.due_at))
        .order_by(ScreeningRound.number, College.code, Klass.code)).all()
    return [LateClass(*row) for row in rows]


def unreached(scope: Scope, p: Period) -> list[tuple[str, str, int]]:
    """Count the students not reached in the period's rounds, per class."""
    rows = db.session.execute(
        select(College.name, Klass.name, func.count(ScreeningEntry.id))
        .join(ScreeningClass, ScreeningClass.id == ScreeningEntry.screening_class_id)
        .join(ScreeningRound, ScreeningRound.id == ScreeningEntry.round_id)
        .join(Klass, Klass.id == ScreeningEntry.class_id)
        .join(College, College.id == ScreeningClass.college_id)
        .where(ScreeningEntry.status == "not_reached",
               reports.between(ScreeningRound.started_at, p.start, p.end),
               *scope.on(ScreeningClass.college_id, ScreeningClass.class_id))
        .group_by(College.code, College.name, Klass.code, Klass.name)
        .order_by(College.code, Klass.code)).all()
    return [(college, klass, n) for college, klass, n in rows]


# -- the dashboard -----------------------------------------------------------------------


@dataclass
class Dashboard:
    """Every figure of one scope and period."""

    period: Period
    scope: Scope
    at: datetime
    cases: CaseFigures
    lag: list[reports.Lag]
    trend: list[reports.TrendPoint]
    fraud_free_window: Period
    fraud_free: list[tuple[int, str, str]]
    overdue: Overdue
    stop_payment: Timing
    psych: dict[str, int]
    warnings: list[WarningLine]
    reach_minutes: int
    late_classes: list[LateClass]
    unreached: list[tuple[str, str, int]]
    notes: list[str] = field(default_factory=list)

    @property
    def unreached_total(self) -> int:
        """Return how many students the period's rounds could not reach."""
        return sum(n for *_, n in self.unreached)


def build(scope: Scope, p: Period, at: datetime | None = None) -> Dashboard:
    """Compute every dashboard figure of `scope` for period `p` (as of `at`, default now)."""
    at = at or clock.now()
    splits = reports.split_losses(scope)
    figures = CaseFigures(scope, p, splits)
    names = {line.college_id or 0: line.name for line in figures.lines()}
    window, free = reports.fraud_free_classes(scope, p)
    board = Dashboard(
        p, scope, at, figures, reports.registration_lag(figures),
        reports.trend(scope, p, splits), window, free, overdue(scope, p, at, names),
        stop_payment(scope, p), psych_referrals(scope, p), warnings(scope, p, names),
        int(reach_limit().total_seconds() // 60), late_screening(scope, p, at),
        unreached(scope, p))
    if int(settings.get("fraud_free_min_app_signup_pct") or 0) > 0:
        board.notes.append("app_signup_unknown")
    return board


# -- the cases behind a figure -----------------------------------------------------------

FLAGS = ("withdrawn", "downgraded", "late", "lag", "loss", "overdue", "stop_payment",
         "psych_accepted", "psych_declined")


@dataclass(frozen=True)
class Drill:
    """Which figure's cases to list: a flag (kind of figure) and its breakdown keys."""

    flag: str | None = None
    college_id: int | None = None
    category: str | None = None  # victim / involved / at_risk / counted
    fraud_type: str | None = None
    behaviour: str | None = None
    state: str | None = None
    step: str | None = None


def _task_cases(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return Case.id.in_(select(TaskRow.case_id).where(TaskRow.case_id.is_not(None), *conds))


def _flag_conditions(scope: Scope, p: Period, d: Drill, at: datetime
                     ) -> list[ColumnElement[bool]]:
    new = [reports.in_period(p)]
    simple = {"withdrawn": [*new, Case.withdrawn.is_(True)],
              "downgraded": [*new, Case.downgraded.is_(True)],
              "late": [reports.late(p)],
              "lag": [*new, reports.counted(), Case.happened_at.is_not(None)]}
    if d.flag in simple:
        return simple[d.flag]
    if d.flag == "loss":
        extra = reports.loss_case_ids(CaseFigures(scope, p))
        return [or_(and_(*new, reports.counted()), Case.id.in_(extra))]
    if d.flag == "overdue":
        step = [TaskRow.task_spec == d.step] if d.step else []
        college = [TaskRow.college_id == d.college_id] if d.college_id else []
        # one covering-index scan per branch: an OR would fetch every task row for case_id
        return [Case.id.in_(union(*[
            select(TaskRow.case_id).where(TaskRow.case_id.is_not(None), branch, *step,
                                          *college) for branch in overdue_branches(p, at)]))]
    if d.flag == "stop_payment":
        return [_task_cases(TaskRow.task_spec == "stop_payment", TaskRow.state != "cancelled",
                            reports.between(TaskRow.created_at, p.start, p.end))]
    if d.flag in ("psych_accepted", "psych_declined"):
        like = AuditEvent.detail.like(DECLINED)
        answered = select(AuditEvent.task_id).where(
            AuditEvent.event_type == "task_completed",
            like if d.flag == "psych_declined" else ~like)
        return [_task_cases(reports.between(TaskRow.completed_at, p.start, p.end),
                            *_answered(), TaskRow.id.in_(answered))]
    return [*new, Case.withdrawn.is_(False)]


def drill_conditions(scope: Scope, p: Period, d: Drill, at: datetime | None = None
                     ) -> list[ColumnElement[bool]]:
    """Return the conditions selecting the cases behind one figure (scoped like it)."""
    conds = [*scope.cases(), *_flag_conditions(scope, p, d, at or clock.now())]
    if d.college_id and d.flag != "overdue":
        conds.append(Case.college_id == d.college_id)
    if d.category == "counted":
        conds.append(Case.category.in_(reports.COUNTED))
    elif d.category:
        conds.append(Case.category == d.category)
    for column, value in ((Case.fraud_type, d.fraud_type), (Case.behaviour, d.behaviour)):
        if value == "other":
            conds.append(or_(column.is_(None), column == "other"))
        elif value:
            conds.append(column == value)
    if d.state:
        conds.append(Case.state == d.state)
    return conds
