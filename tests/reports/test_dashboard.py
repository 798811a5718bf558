"""Every dashboard figure of the known school, exactly; scopes; the cases behind figures."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from caseflow import clock
from caseflow.db import db
from caseflow.models import Setting, TaskRow
from caseflow.services import dashboard, exports, periods, reports
from tests.reports.conftest import NOW, at

D = Decimal


@pytest.fixture
def period(app):
    return periods.two_weeks(date(2025, 9, 20))


def board(user, p, college=None):
    with clock.pinned(NOW):
        return dashboard.build(reports.Scope(user, college), p)


def drill(user, p, college=None, **kw):
    with clock.pinned(NOW):
        conds = dashboard.drill_conditions(reports.Scope(user, college), p,
                                           dashboard.Drill(**kw))
        return sorted(c.number for c, *_ in exports.cases_where(conds))


def test_the_period_is_the_second_two_week_window_of_the_term(school, period):
    assert (period.start, period.end) == (at(2025, 9, 15), at(2025, 9, 29))


def test_case_figures_per_college_and_in_all(school, period):
    b = board(school.affairs, period)
    c1, c2, c3 = b.cases.lines()
    assert (c1.name, c2.name, c3.name) == ("信息工程学院", "经济管理学院", "艺术设计学院")
    # C1: victims A B(23:59) H(downgraded) I(closed) L M; A and I are one person; D involved
    assert (c1.victim_cases, c1.victim_persons, c1.involved_cases, c1.involved_persons) == (
        6, 5, 1, 1)
    assert (c1.cases, c1.at_risk, c1.open, c1.closed, c1.withdrawn, c1.downgraded) == (
        7, 0, 6, 1, 0, 1)
    assert (c1.loss, c1.recovered, c1.late) == (D("12584.56"), D("200.00"), 1)
    # C2: E (at-risk at 00:00 of the first day) only; G withdrawn; C happened at 00:00 after
    # the period; J's second finding (400.00) brings its loss into this period
    assert (c2.cases, c2.at_risk, c2.withdrawn, c2.open, c2.loss, c2.zero, c2.late) == (
        0, 1, 1, 1, D("400.00"), True, 1)
    assert (c3.cases, c3.zero, c3.loss) == (0, True, D("0.00"))
    t = b.cases.total
    assert (t.victim_cases, t.victim_persons, t.involved_cases, t.involved_persons) == (
        6, 5, 1, 1)
    assert (t.at_risk, t.open, t.closed, t.withdrawn, t.downgraded, t.late) == (
        1, 7, 1, 1, 1, 2)  # late: F registered late; J's second finding came in the period
    assert (t.loss, t.recovered) == (D("12984.56"), D("200.00"))
    assert isinstance(t.loss, Decimal) and t.loss.as_tuple().exponent == -2


def test_breakdowns_by_fraud_type_and_behaviour(school, period):
    b = board(school.affairs, period)
    assert b.cases.by_fraud_type == {"fake_shopping": [4, 0], "order_brushing": [2, 0],
                                     "fake_job": [0, 1]}
    assert b.cases.by_behaviour == {"bank_card": 1}


def test_registration_lag_and_late_cases(school, period):
    lag = board(school.affairs, period).lag
    # A 4 h, B 9 h 1 min, D 25 h, H 0, I 0, L 2 h, M 7 h
    assert (lag[0].cases, lag[0].median_s, lag[0].worst_s, lag[0].late) == (
        7, 14400.0, 90000.0, 1)
    assert [(x.cases, x.late) for x in lag[1:]] == [(0, 1), (0, 0)]
    assert drill(school.affairs, period, flag="late") == sorted(
        school.k[x].number for x in "FJ")


def test_the_earlier_window_holds_j_and_k_and_js_first_loss(school, period):
    before = board(school.affairs, periods.previous(period))
    c1, c2, _ = before.cases.lines()
    assert (c1.at_risk, c1.victim_cases) == (1, 1)  # K (23:59 the day before), F
    assert (c2.victim_cases, c2.loss) == (1, D("1000.00"))  # J: only its first finding


def test_stop_payment_response_and_psych_referrals(school, period):
    b = board(school.affairs, period)
    sp = b.stop_payment
    assert (sp.count, sp.done, sp.waiting, sp.median_s, sp.worst_s) == (3, 2, 1, 3300.0, 5400.0)
    assert b.psych == {"accepted": 1, "declined": 1}
    assert drill(school.affairs, period, flag="stop_payment") == sorted(
        school.k[x].number for x in "ALM")
    assert drill(school.affairs, period, flag="psych_declined") == [school.k["L"].number]
    assert drill(school.affairs, period, flag="psych_accepted") == [school.k["A"].number]


def _overdue_oracle(p, college_id=None):
    """Count tasks open past their due time at some moment of the period, the slow way."""
    by_step, by_college = {}, {}
    for t in db.session.scalars(select(TaskRow)):
        if t.due_at is None or (college_id and t.college_id != college_id):
            continue
        late_from = max(t.due_at, p.start)
        late_until = min(t.completed_at or NOW, p.end, NOW)
        if late_from < late_until:
            by_step[t.task_spec] = by_step.get(t.task_spec, 0) + 1
            by_college[t.college_id] = by_college.get(t.college_id, 0) + 1
    return by_step, by_college


def test_overdue_tasks_by_step_and_by_college(school, period):
    b = board(school.affairs, period)
    steps, colleges = _overdue_oracle(period)
    assert {spec: n for spec, _name, n in b.overdue.by_step} == steps
    assert {cid: n for cid, _name, n in b.overdue.by_college} == colleges
    # hand-checked anchors: stop-payment A (20 min) was on time, L (90 min) and M were not
    assert dict((s, n) for s, _, n in b.overdue.by_step)["stop_payment"] == 2
    assert dict((s, n) for s, _, n in b.overdue.by_step)["psych_accept"] == 2
    assert b.overdue.total == sum(steps.values())
    behind = drill(school.affairs, period, flag="overdue", step="stop_payment")
    assert behind == sorted(school.k[x].number for x in "LM")


def test_police_warnings_reach_time_and_dissuasion(school, period):
    school_line, c1, c2 = board(school.affairs, period).warnings
    assert (school_line.warnings, school_line.reached, school_line.dissuaded) == (4, 3, 2)
    assert (school_line.median_minutes, school_line.within, school_line.within_share) == (
        30.0, 2, 0.5)  # 30 minutes exactly is within; the unreached one is not
    assert school_line.rate == 0.5
    assert (c1.name, c1.warnings, c1.dissuaded, c1.median_minutes, c1.rate) == (
        "信息工程学院", 2, 1, 32.5, 0.5)
    assert (c2.warnings, c2.dissuaded, c2.within_share, c2.rate) == (1, 1, 1.0, 1.0)


def test_screening_late_classes_and_unreached_students(school, period):
    b = board(school.affairs, period)
    assert [(c.class_name, c.done_at is None) for c in b.late_classes] == [
        ("软件2401班", False), ("网络2401班", True)]
    assert b.unreached == [("信息工程学院", "软件2401班", 1), ("经济管理学院", "会计2401班", 1)]
    assert b.unreached_total == 2


def test_fraud_free_classes_and_the_trend(school, period):
    b = board(school.affairs, period)
    assert b.fraud_free_window.key == "academic_year:2025-09-01"
    assert [name for _kid, name, _college in b.fraud_free] == ["设计2401班"]
    september = b.trend[-1]
    assert september.label == "2025年9月" and len(b.trend) == 12
    assert (september.victim, september.involved, september.at_risk, september.loss) == (
        9, 1, 2, D("14784.56"))
    assert all(m.victim == m.involved == m.at_risk == 0 for m in b.trend[:-1])


def test_every_case_figure_lists_exactly_its_cases(school, period):
    u, k = school.affairs, school.k
    names = lambda *xs: sorted(k[x].number for x in xs)  # noqa: E731
    assert drill(u, period, category="counted") == names(*"ABHILMD")
    assert drill(u, period, category="victim", college=None, college_id=school.college1.id) \
        == names(*"ABHILM")
    assert drill(u, period, category="at_risk") == names("E")
    assert drill(u, period, flag="withdrawn") == names("G")
    assert drill(u, period, flag="downgraded") == names("H")
    assert drill(u, period, state="closed") == names("I")
    assert drill(u, period, flag="loss", college_id=school.college2.id) == names("J")
    assert drill(u, period, category="victim", fraud_type="fake_shopping") == names(*"BHIL")
    assert drill(u, period, category="involved", behaviour="bank_card") == names("D")


def test_counting_by_registration_moves_the_boundary_cases(school, period):
    db.session.add(Setting(key="case_counts_by", value=json.dumps("registered")))
    db.session.commit()
    b = board(school.affairs, period)
    c1, c2, _ = b.cases.lines()
    # B (registered 09-29) leaves; F (registered 09-17) comes in; E stays (at-risk)
    assert (c1.victim_cases, c1.loss) == (6, D("12584.56") - D("1234.56") + D("300.00"))
    assert (c2.at_risk, c2.victim_cases, c2.loss) == (1, 0, D("400.00"))


def test_a_counselor_sees_only_their_classes_figures(school, period):
    b = board(school.counselor2, period)  # class K2: B, H, L
    assert [line.name for line in b.cases.lines()] == ["信息工程学院"]
    t = b.cases.total
    assert (t.victim_cases, t.victim_persons, t.involved_cases, t.loss) == (
        3, 3, 0, D("3834.56"))
    assert b.stop_payment.count == 1 and b.psych == {"accepted": 0, "declined": 1}
    assert [c.class_name for c in b.late_classes] == ["网络2401班"]
    assert b.unreached == [] and b.fraud_free == []
    assert [w.warnings for w in b.warnings] == [1, 1]
    assert drill(school.counselor2, period, category="counted") == sorted(
        school.k[x].number for x in "BHL")


def test_a_college_officer_sees_only_their_college(school, period):
    b = board(school.officer2, period)
    assert [line.name for line in b.cases.lines()] == ["经济管理学院"]
    t = b.cases.total
    assert (t.cases, t.at_risk, t.withdrawn, t.loss) == (0, 1, 1, D("400.00"))
    assert [w.warnings for w in b.warnings] == [1, 1]
    assert b.stop_payment.count == 0
    steps, _ = _overdue_oracle(period, school.college2.id)
    assert {s: n for s, _, n in b.overdue.by_step} == steps
    # asking for another college shows nothing of it
    other = board(school.officer2, period, college=school.college1.id)
    assert other.cases.total.cases == 0 and other.cases.lines() == []
    assert drill(school.officer2, period, category="counted", college=school.college1.id) == []


def test_a_leader_may_narrow_to_one_college(school, period):
    b = board(school.leader, period, college=school.college1.id)
    assert [line.name for line in b.cases.lines()] == ["信息工程学院"]
    assert b.cases.total.cases == 7 and [w.warnings for w in b.warnings] == [2, 2]


def test_viewers(school):
    assert all(reports.may_view(u) for u in (school.affairs, school.leader, school.officer1,
                                             school.counselor1))
    assert not any(reports.may_view(u) for u in (school.psych, school.admin))
