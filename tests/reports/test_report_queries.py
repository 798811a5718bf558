"""How the figures are computed at volume: the opening-finding mark that keeps late()
narrow, the one-query trend against month-by-month sums, raw-time spans, and the
covering indexes the period branches read (SQLite plans)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from caseflow.db import db
from caseflow.models import Case, Finding
from caseflow.services import periods, reports
from tests.reports.conftest import at


def _findings(case: Case) -> list[tuple[bool, object]]:
    return [(f.opening, f.created_at) for f in db.session.scalars(
        select(Finding).where(Finding.case_id == case.id).order_by(Finding.id))]


def test_registration_marks_its_finding_opening_and_an_attached_one_not(school):
    j = school.k["J"]  # registered 09-03, a second finding attached 09-22
    (first, first_at), (second, second_at) = _findings(j)
    assert (first, second) == (True, False)
    assert first_at == db.session.get(Case, j.id).registered_at
    assert second_at == at(2025, 9, 22, 9)


def test_late_reads_only_later_findings_and_still_finds_the_attached_case(school):
    p = periods.two_weeks(date(2025, 9, 20))
    late = set(db.session.scalars(select(Case.number).where(reports.late(p))))
    assert school.k["J"].number in late  # its 400.00 finding came in this period
    # marking every finding as later changes nothing: opening ones hold registration time
    db.session.execute(Finding.__table__.update().values(opening=False))
    assert set(db.session.scalars(select(Case.number).where(reports.late(p)))) == late
    db.session.rollback()


def _month_by_month(user, p: periods.Period) -> list[tuple[int, int, int, Decimal]]:
    scope, out = reports.Scope(user), []
    for m in periods.trend_months(p):
        row = [0, 0, 0, Decimal("0.00")]
        for branch in reports.branches(m):
            for cat, n, lost in db.session.execute(
                    select(Case.category, func.count(), reports.fen(Case.loss_cny))
                    .where(branch, Case.withdrawn.is_(False), *scope.cases())
                    .group_by(Case.category)):
                row[reports.CATEGORIES.index(cat)] += n
                row[3] += reports.yuan(lost) if cat in reports.COUNTED else 0
        out.append(tuple(row))
    return out


@pytest.mark.parametrize("counts_by", ["happened", "registered"])
def test_the_one_query_trend_equals_month_by_month_sums(school, counts_by):
    from caseflow.models import Setting

    db.session.merge(Setting(key="case_counts_by", value=f'"{counts_by}"'))
    db.session.commit()
    p = periods.month(date(2025, 9, 20))
    points = reports.trend(reports.Scope(school.affairs), p, {})
    got = [(x.victim, x.involved, x.at_risk, x.loss) for x in points]
    assert got == _month_by_month(school.affairs, p)
    assert sum(x[0] + x[1] + x[2] for x in got) > 0


def test_seconds_between_raw_times_equals_datetime_subtraction(school):
    a = school.k["A"]
    happened, registered = db.session.execute(
        select(reports.raw_time(Case.happened_at), reports.raw_time(Case.registered_at))
        .where(Case.id == a.id)).one()
    row = db.session.get(Case, a.id)
    assert reports.seconds_between(happened, registered) == (
        row.registered_at - row.happened_at).total_seconds()


def _plan(condition) -> str:
    stmt = select(Case.college_id, Case.category, Case.fraud_type, Case.state,
                  func.count(), reports.fen(Case.recovered_cny)).where(condition).group_by(
        Case.college_id, Case.category, Case.fraud_type, Case.state)
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return " | ".join(str(r[-1]) for r in rows)


@pytest.mark.database("sqlite")  # reads SQLite's EXPLAIN QUERY PLAN
def test_every_period_branch_is_an_index_only_scan(app):
    happened, at_risk, undated = reports.branches(periods.month(date(2025, 9, 20)))
    assert "COVERING INDEX ix_case_happened_figures" in _plan(happened)
    assert "COVERING INDEX ix_case_category_registered (category=?" in _plan(at_risk)
    assert "COVERING INDEX ix_case_happened_figures (happened_at=? AND registered_at" in _plan(
        undated)
