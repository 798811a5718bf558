"""Dashboard figures from indexed SQL aggregates over the case, task and audit tables.

Nothing here loads a workflow. The scope and period conditions live in reports_scope,
the split losses of cases with several findings in losses, the trend and fraud-free
classes in trend; their public names are importable from here too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from sqlalchemy import func, select

from caseflow.db import db
from caseflow.models import Case, College, Klass
from caseflow.services.losses import LossFinding, loss_case_ids, split_losses
from caseflow.services.periods import Period
from caseflow.services.reports_scope import (
    CATEGORIES,
    CENT,
    COUNTED,
    READ_ALL,
    VIEWERS,
    Scope,
    between,
    branches,
    by_registration,
    counted,
    fen,
    in_period,
    late,
    may_view,
    places,
    raw_time,
    seconds_between,
    sees_school,
    timed_branches,
    yuan,
)
from caseflow.services.trend import TrendPoint, fraud_free_classes, trend

__all__ = ["CATEGORIES", "CENT", "COUNTED", "READ_ALL", "VIEWERS", "CaseFigures", "Lag",
           "Line", "LossFinding", "Scope", "TrendPoint", "between", "branches",
           "by_registration", "counted", "fen", "fraud_free_classes", "in_period", "late",
           "loss_case_ids", "may_view", "places", "raw_time", "registration_lag", "sees_school",
           "seconds_between", "split_losses", "timed_branches", "trend", "yuan"]


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
        self.spans: dict[int, list[float]] = defaultdict(list)  # college → lags of its 发案
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
        """Count persons per line, and keep each 发案's registration lag (same rows)."""
        seen: dict[tuple[int | None, str], set[int]] = defaultdict(set)
        query = select(Case.college_id, Case.category, Case.student_id,
                       raw_time(Case.happened_at), raw_time(Case.registered_at))
        for branch in branches(self.period):
            rows = db.session.execute(query.where(branch, counted(), *self.scope.cases()))
            for cid, cat, student, happened, registered in rows:
                seen[(cid, cat)].add(student)
                seen[(None, cat)].add(student)
                if happened is not None:
                    self.spans[cid].append(max(seconds_between(happened, registered), 0.0))
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
    out = []
    for line in figures.lines():
        values = figures.spans.get(line.college_id or 0, [])
        out.append(Lag(line.college_id or 0, line.name, len(values),
                       median(values) if values else 0.0, max(values, default=0.0), line.late))
    return out
