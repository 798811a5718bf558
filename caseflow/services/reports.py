"""Dashboard figures from indexed SQL aggregates over the case, task and audit tables.

Nothing here loads a workflow. A case counts in the period of when it happened (its
案发时间) or, by the setting `case_counts_by`, when it was registered; at-risk cases
always count by registration. 发案 is a victim or involved case not withdrawn; at-risk
cases are counted on their own. Every figure is scoped twice: by `access.case_filter`
and by the places (college, classes) the viewer's roles report on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    cast,
    false,
    func,
    or_,
    select,
    true,
    union,
)

from caseflow import access, settings
from caseflow.db import db
from caseflow.models import Case, College, Finding, Klass, User
from caseflow.services import periods
from caseflow.services.periods import Period

COUNTED = ("victim", "involved")
CATEGORIES = ("victim", "involved", "at_risk")
READ_ALL = {"student_affairs", "leader", "lead_office"}
VIEWERS = READ_ALL | {"college_officer", "counselor"}
CENT = Decimal("0.01")


def may_view(user: User) -> bool:
    """Say whether `user` may see the dashboard (their scope's figures)."""
    return bool(access.roles(user) & VIEWERS)


def sees_school(user: User) -> bool:
    """Say whether `user` reports on the whole school (not one college or classes)."""
    return bool(access.roles(user) & READ_ALL)


def places(user: User, college_col: Any, class_col: Any) -> ColumnElement[bool]:
    """Return the condition on (college, class) columns for the places `user` reports on."""
    held = access.roles(user)
    if held & READ_ALL:
        return true()
    conds: list[ColumnElement[bool]] = []
    if "college_officer" in held and user.college_id:
        conds.append(_plain(college_col) == user.college_id)
    if "counselor" in held and user.class_ids:
        conds.append(_plain(class_col).in_(list(user.class_ids)))
    return or_(*conds) if conds else false()


def _plain(column: Any) -> Any:
    """Compare through coalesce(): the period's time index should drive, not the place's."""
    return func.coalesce(column, 0)


@dataclass(frozen=True)
class Scope:
    """Who is looking, and at which college (None: everything they may see)."""

    user: User
    college_id: int | None = None

    def cases(self) -> list[ColumnElement[bool]]:
        """Return the conditions selecting the cases in scope."""
        conds = [access.case_filter(self.user), places(self.user, Case.college_id, Case.class_id)]
        if self.college_id:
            conds.append(_plain(Case.college_id) == self.college_id)
        return conds

    def on(self, college_col: Any, class_col: Any) -> list[ColumnElement[bool]]:
        """Return the conditions for rows that carry a college and a class."""
        conds = [places(self.user, college_col, class_col)]
        if self.college_id:
            conds.append(_plain(college_col) == self.college_id)
        return conds


def by_registration() -> bool:
    """Say whether cases count by registration time (the setting), not by 案发时间."""
    return settings.get("case_counts_by") == "registered"


def between(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _is_at_risk() -> ColumnElement[bool]:
    # coalesce() keeps the planner on the time indexes rather than the category index
    return func.coalesce(Case.category, "") == "at_risk"


def in_period(p: Period) -> ColumnElement[bool]:
    """Return the condition 'the case counts in period p' (index-friendly: time ranges)."""
    registered = between(Case.registered_at, p.start, p.end)
    if by_registration():
        return registered
    return or_(and_(between(Case.happened_at, p.start, p.end), ~_is_at_risk()),
               and_(registered, _is_at_risk()),
               and_(registered, Case.happened_at.is_(None)))


def branches(p: Period) -> list[ColumnElement[bool]]:
    """Return disjoint conditions whose union is in_period(p), one time index each.

    Aggregates run once per branch and add up: a multi-index OR would read every row from
    the table, while each branch alone is an index-only range scan.
    """
    registered = between(Case.registered_at, p.start, p.end)
    if by_registration():
        return [registered]
    return [and_(between(Case.happened_at, p.start, p.end), ~_is_at_risk()),
            and_(registered, _is_at_risk()),
            and_(registered, Case.happened_at.is_(None), ~_is_at_risk())]


def counted() -> ColumnElement[bool]:
    """Return the condition 'the case is 发案': victim or involved, not withdrawn."""
    return and_(func.coalesce(Case.category, "").in_(COUNTED), Case.withdrawn.is_(False))


def fen(column: Any) -> Any:
    """Return SUM(column) in integer fen, exact on every database."""
    return func.coalesce(func.sum(cast(func.round(column * 100), BigInteger)), 0)


def yuan(value: Any) -> Decimal:
    """Turn integer fen into CNY (Decimal, two places)."""
    return (Decimal(int(value or 0)) / 100).quantize(CENT)


def late(p: Period, since: datetime | None = None, until: datetime | None = None
         ) -> ColumnElement[bool]:
    """Return 'a 发案 of an earlier period, registered (or given a finding) in since..until'.

    By default since..until is the period itself: a case registered late is never hidden,
    nor is an earlier case that a later finding turned into a 发案.
    """
    since, until = since or p.start, until or p.end
    found = select(Finding.case_id).where(between(Finding.created_at, since, until))
    # coalesce(): the registration or finding time drives the index, not 'happened before'
    return and_(counted(), func.coalesce(Case.happened_at, p.start) < p.start,
                or_(between(Case.registered_at, since, until), Case.id.in_(found)))


# -- case figures ------------------------------------------------------------------------


@dataclass
class Line:
    """The case figures of one college (or of the whole scope)."""

    college_id: int | None
    name: str
    victim_cases: int = 0
    victim_persons: int = 0
    involved_cases: int = 0
    involved_persons: int = 0
    at_risk: int = 0
    open: int = 0
    closed: int = 0
    withdrawn: int = 0
    downgraded: int = 0
    loss: Decimal = Decimal("0.00")
    recovered: Decimal = Decimal("0.00")
    late: int = 0

    @property
    def cases(self) -> int:
        """Return the 发案 count (victim + involved cases, not withdrawn)."""
        return self.victim_cases + self.involved_cases

    @property
    def zero(self) -> bool:
        """Say whether this is a zero-case (零发案) line."""
        return self.cases == 0


@dataclass
class LossFinding:
    """A finding of a case with several findings: its loss counts in its own period."""

    case_id: int
    college_id: int
    when: datetime
    loss: Decimal


def _finding_time(data: dict[str, Any], created: datetime) -> datetime:
    if by_registration() or data.get("category") not in COUNTED or not data.get("happened_at"):
        return created
    when = datetime.fromisoformat(str(data["happened_at"]))
    return when if when.tzinfo else when.replace(tzinfo=created.tzinfo)


_SPLITS: dict[tuple[Any, ...], list[tuple[int, LossFinding]]] = {}


def _all_splits() -> list[tuple[int, LossFinding]]:
    """Return every finding of the 发案 with several findings (cached until one is added)."""
    key = (db.session.scalar(select(func.max(Finding.id))), by_registration(),
           db.engine.url.render_as_string())
    if key not in _SPLITS:
        several = select(Finding.case_id).group_by(Finding.case_id).having(func.count() > 1)
        rows = db.session.execute(
            select(Finding.case_id, Case.college_id, Finding.data, Finding.created_at)
            .join(Case, Case.id == Finding.case_id)
            .where(Finding.case_id.in_(several), counted())).all()
        found = []
        for case_id, college_id, text, created in rows:
            data = json.loads(text or "{}")
            loss = Decimal(str(data.get("loss_cny") or "0")).quantize(CENT)
            found.append((case_id, LossFinding(case_id, college_id, _finding_time(data, created),
                                               loss)))
        _SPLITS.clear()
        _SPLITS[key] = found
    return _SPLITS[key]


def split_losses(scope: Scope) -> dict[int, list[LossFinding]]:
    """Return the findings of the 发案 in scope that have several findings (case → list)."""
    found = _all_splits()
    if not found:
        return {}
    ids = {case_id for case_id, _ in found}
    visible = set(db.session.scalars(select(Case.id).where(
        Case.id.in_(ids), counted(), *scope.cases())))
    out: dict[int, list[LossFinding]] = defaultdict(list)
    for case_id, item in found:
        if case_id in visible:
            out[case_id].append(item)
    return out


class CaseFigures:
    """Case figures of one scope and period: per college, with the scope's total."""

    def __init__(self, scope: Scope, p: Period, splits: dict[int, list[LossFinding]]
                 | None = None) -> None:
        self.scope, self.period = scope, p
        self.splits = split_losses(scope) if splits is None else splits
        self.colleges = self._colleges()
        self.total = Line(None, "")
        self.by_fraud_type: dict[str, list[int]] = {}  # code -> [victim, at_risk]
        self.by_behaviour: dict[str, int] = {}
        self._fill()

    def _colleges(self) -> dict[int, Line]:
        rows = db.session.execute(
            select(College.id, College.name).where(College.id.in_(
                select(Klass.college_id).where(*self.scope.on(Klass.college_id, Klass.id))))
            .order_by(College.code)).all()
        return {cid: Line(cid, name) for cid, name in rows}

    def _line(self, college_id: int) -> Line:
        return self.colleges.setdefault(college_id, Line(college_id, f"#{college_id}"))

    def _fill(self) -> None:
        cols = (Case.college_id, Case.category, Case.fraud_type, Case.behaviour, Case.state,
                Case.withdrawn, Case.downgraded)
        query = select(*cols, func.count(), fen(Case.loss_cny), fen(Case.recovered_cny))
        rows = [row for branch in branches(self.period) for row in db.session.execute(
            query.where(branch, *self.scope.cases()).group_by(*cols))]
        for cid, cat, ftype, behaviour, state, withdrawn, downgraded, n, lost, back in rows:
            for line in (self._line(cid), self.total):
                self._add(line, cat, state, bool(withdrawn), bool(downgraded), n, lost, back)
            if withdrawn:
                continue
            if cat == "involved":
                key = behaviour or "other"
                self.by_behaviour[key] = self.by_behaviour.get(key, 0) + n
            else:
                pair = self.by_fraud_type.setdefault(ftype or "other", [0, 0])
                pair[0 if cat == "victim" else 1] += n
        self._persons()
        self._late()
        self._split_losses()

    @staticmethod
    def _add(line: Line, cat: str, state: str, withdrawn: bool, downgraded: bool, n: int,
             lost: int, back: int) -> None:
        line.downgraded += n if downgraded else 0
        if withdrawn:
            line.withdrawn += n
            return
        if cat == "victim":
            line.victim_cases += n
        elif cat == "involved":
            line.involved_cases += n
        else:
            line.at_risk += n
        line.open += n if state == "open" else 0
        line.closed += n if state == "closed" else 0
        if cat in COUNTED:
            line.loss += yuan(lost)
            line.recovered += yuan(back)

    def _persons(self) -> None:
        seen: dict[tuple[int | None, str], set[int]] = defaultdict(set)
        for branch in branches(self.period):
            rows = db.session.execute(select(Case.college_id, Case.category, Case.student_id)
                                      .where(branch, counted(), *self.scope.cases()))
            for cid, cat, student in rows:
                seen[(cid, cat)].add(student)
                seen[(None, cat)].add(student)
        for (cid, cat), students in seen.items():
            line = self.total if cid is None else self._line(cid)
            setattr(line, f"{cat}_persons", len(students))

    def _late(self) -> None:
        rows = db.session.execute(select(Case.college_id, func.count())
                                  .where(late(self.period), *self.scope.cases())
                                  .group_by(Case.college_id))
        for cid, n in rows:
            self._line(cid).late += n
            self.total.late += n

    def _split_losses(self) -> None:
        """Move each later finding's loss into the period of that finding."""
        if not self.splits:
            return
        here = set(db.session.scalars(select(Case.id).where(
            Case.id.in_(list(self.splits)), in_period(self.period))))
        for case_id, items in self.splits.items():
            change = sum((f.loss for f in items if self.period.contains(f.when)), Decimal(0))
            if case_id in here:
                change -= sum((f.loss for f in items), Decimal(0))
            if change:
                self._line(items[0].college_id).loss += change
                self.total.loss += change

    def lines(self) -> list[Line]:
        """Return the college lines, in college order."""
        return list(self.colleges.values())


def loss_case_ids(figures: CaseFigures) -> list[int]:
    """Return cases outside the period whose later finding brought a loss into it."""
    return [cid for cid, items in figures.splits.items()
            if any(f.loss and figures.period.contains(f.when) for f in items)]


# -- fraud-free places and the monthly trend ---------------------------------------------


def fraud_free_classes(scope: Scope, p: Period) -> tuple[Period, list[tuple[int, str, str]]]:
    """Return the fraud-free window and the classes in scope with no 发案 in it."""
    window = periods.fraud_free_window(p)
    hit = union(*[select(Case.class_id).where(branch, counted(), *scope.cases())
                  for branch in branches(window)])
    rows = db.session.execute(
        select(Klass.id, Klass.name, College.name).join(College, College.id == Klass.college_id)
        .where(*scope.on(Klass.college_id, Klass.id), Klass.id.not_in(hit))
        .order_by(College.code, Klass.code)).all()
    return window, [(kid, name, college) for kid, name, college in rows]


@dataclass
class TrendPoint:
    """One month of the trend."""

    month: Period
    label: str
    victim: int = 0
    involved: int = 0
    at_risk: int = 0
    loss: Decimal = Decimal("0.00")


def trend(scope: Scope, p: Period, splits: dict[int, list[LossFinding]]) -> list[TrendPoint]:
    """Return the cases (by category) and losses of the twelve months up to period p."""
    out = []
    for m in periods.trend_months(p):
        point = TrendPoint(m, periods.month_name(m))
        query = select(Case.category, func.count(), fen(Case.loss_cny))
        for branch in branches(m):
            rows = db.session.execute(query.where(branch, Case.withdrawn.is_(False),
                                                  *scope.cases()).group_by(Case.category))
            for cat, n, lost in rows:
                setattr(point, cat, getattr(point, cat) + n)
                point.loss += yuan(lost) if cat in COUNTED else Decimal(0)
        out.append(point)
    _trend_splits(out, splits)
    return out


def _trend_splits(points: list[TrendPoint], splits: dict[int, list[LossFinding]]) -> None:
    if not splits:
        return
    when = dict(db.session.execute(select(Case.id, _count_time()).where(
        Case.id.in_(list(splits)))).all())
    for case_id, items in splits.items():
        for point in points:
            if point.month.contains(_aware(when[case_id])):
                point.loss -= sum((f.loss for f in items), Decimal(0))
            point.loss += sum((f.loss for f in items if point.month.contains(f.when)),
                              Decimal(0))


def _count_time() -> Any:
    return Case.registered_at if by_registration() else func.coalesce(Case.happened_at,
                                                                      Case.registered_at)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- registration lag --------------------------------------------------------------------


@dataclass
class Lag:
    """Registration lag (登记时间 − 案发时间) of one college's 发案, in seconds."""

    college_id: int
    name: str
    cases: int
    median_s: float
    worst_s: float
    late: int = 0


def registration_lag(figures: CaseFigures) -> list[Lag]:
    """Return each college's registration lag over the 发案 counted in the period."""
    rows = db.session.execute(
        select(Case.college_id, Case.happened_at, Case.registered_at)
        .where(in_period(figures.period), counted(), Case.happened_at.is_not(None),
               *figures.scope.cases())).all()
    spans: dict[int, list[float]] = defaultdict(list)
    for cid, happened, registered in rows:
        spans[cid].append(max((registered - happened).total_seconds(), 0.0))
    out = []
    for line in figures.lines():
        values = spans.get(line.college_id or 0, [])
        out.append(Lag(line.college_id or 0, line.name, len(values),
                       median(values) if values else 0.0, max(values, default=0.0), line.late))
    return out
