"""The monthly trend and the fraud-free classes of a dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select, union

from caseflow.db import db
from caseflow.models import Case, College, Klass
from caseflow.services import periods
from caseflow.services.losses import LossFinding
from caseflow.services.periods import Period
from caseflow.services.reports_scope import (
    COUNTED,
    Scope,
    branches,
    by_registration,
    counted,
    fen,
    timed_branches,
    yuan,
)


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
    """Return the cases (by category) and losses of the twelve months up to period p.

    One aggregate per branch over the whole year, grouped by month: a CASE picks the
    month of each row's time column, so the time index is read once, not per month.
    """
    months = periods.trend_months(p)
    out = [TrendPoint(m, periods.month_name(m)) for m in months]
    for column, branch in timed_branches(months[0].start, months[-1].end):
        bucket = _month_of(column, months)
        rows = db.session.execute(
            select(bucket, Case.category, func.count(), fen(Case.loss_cny))
            .where(branch, Case.withdrawn.is_(False), *scope.cases())
            .group_by(bucket, Case.category))
        for i, cat, n, lost in rows:
            if i < 0:
                continue
            point = out[i]
            setattr(point, cat, getattr(point, cat) + n)
            point.loss += yuan(lost) if cat in COUNTED else Decimal(0)
    _trend_splits(out, splits)
    return out


def _month_of(column: Any, months: list[Period]) -> Any:
    """Return a CASE giving the index of the month holding `column` (-1: none)."""
    if all(a.end == b.start for a, b in zip(months, months[1:], strict=False)):
        # contiguous months inside the queried range: one comparison per month boundary
        return case(*[(column < m.end, i) for i, m in enumerate(months)], else_=-1)
    return case(*[(and_(column >= m.start, column < m.end), i) for i, m in enumerate(months)],
                else_=-1)


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
    return value if value.tzinfo else value.replace(tzinfo=UTC)
