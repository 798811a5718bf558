"""Every period kind's boundaries, in Asia/Shanghai, including 23:59 and 00:00 cases."""

from __future__ import annotations

import json
from datetime import date

import pytest

from caseflow.db import db
from caseflow.models import Setting
from caseflow.services import periods
from tests.reports.conftest import at


def _set(key, value):
    db.session.merge(Setting(key=key, value=json.dumps(value)))
    db.session.commit()


def days(p):
    return (p.first_day.isoformat(), p.end.date().isoformat())


def test_a_period_is_half_open_in_shanghai_time(app):
    p = periods.week(date(2025, 9, 17))
    assert days(p) == ("2025-09-15", "2025-09-22")
    assert p.start == at(2025, 9, 15) and p.start.utcoffset().total_seconds() == 8 * 3600
    assert p.contains(at(2025, 9, 15, 0, 0)) and p.contains(at(2025, 9, 21, 23, 59))
    assert not p.contains(at(2025, 9, 22, 0, 0)) and not p.contains(at(2025, 9, 14, 23, 59))
    # 2025-09-14 16:30 UTC is already Monday 00:30 in Shanghai
    from datetime import UTC, datetime
    assert p.contains(datetime(2025, 9, 14, 16, 30, tzinfo=UTC))


def test_two_week_windows_run_from_the_monday_of_the_terms_first_week(app):
    _set("term_start_dates", ["2025-09-03", "2026-02-23"])  # a Wednesday, then a Monday
    assert days(periods.two_weeks(date(2025, 9, 1))) == ("2025-09-01", "2025-09-15")
    assert days(periods.two_weeks(date(2025, 9, 14))) == ("2025-09-01", "2025-09-15")
    assert days(periods.two_weeks(date(2025, 9, 15))) == ("2025-09-15", "2025-09-29")
    assert days(periods.two_weeks(date(2025, 12, 31))) == ("2025-12-22", "2026-01-05")
    # the autumn term's last window stops where the spring term's first one begins
    assert days(periods.two_weeks(date(2026, 2, 20))) == ("2026-02-16", "2026-02-23")
    assert days(periods.two_weeks(date(2026, 2, 23))) == ("2026-02-23", "2026-03-09")
    w = periods.two_weeks(date(2025, 9, 28))
    assert w.contains(at(2025, 9, 28, 23, 59)) and not w.contains(at(2025, 9, 29, 0, 0))


def test_two_week_windows_without_term_dates_use_the_academic_year(app):
    assert days(periods.two_weeks(date(2025, 9, 10))) == ("2025-09-01", "2025-09-15")


def test_half_months(app):
    assert days(periods.half_month(date(2025, 2, 15))) == ("2025-02-01", "2025-02-16")
    assert days(periods.half_month(date(2025, 2, 16))) == ("2025-02-16", "2025-03-01")
    assert days(periods.half_month(date(2025, 12, 31))) == ("2025-12-16", "2026-01-01")
    p = periods.half_month(date(2025, 9, 15))
    assert p.contains(at(2025, 9, 15, 23, 59)) and not p.contains(at(2025, 9, 16, 0, 0))


def test_calendar_month_by_default(app):
    assert days(periods.month(date(2025, 10, 31))) == ("2025-10-01", "2025-11-01")
    assert days(periods.month(date(2025, 12, 1))) == ("2025-12-01", "2026-01-01")


@pytest.mark.parametrize(("cutoff", "day", "expected", "name"), [
    (27, date(2025, 10, 27), ("2025-09-28", "2025-10-28"), "2025年10月"),
    (27, date(2025, 10, 28), ("2025-10-28", "2025-11-28"), "2025年11月"),
    (27, date(2025, 12, 30), ("2025-12-28", "2026-01-28"), "2026年1月"),
    (28, date(2025, 3, 1), ("2025-03-01", "2025-03-29"), "2025年3月"),
    (28, date(2025, 2, 28), ("2025-01-29", "2025-03-01"), "2025年2月"),
    (1, date(2025, 10, 1), ("2025-09-02", "2025-10-02"), "2025年10月"),
])
def test_month_with_a_cut_off_day(app, cutoff, day, expected, name):
    _set("month_cutoff_day", cutoff)
    p = periods.month(day)
    assert days(p) == expected and periods.month_name(p) == name


def test_month_cut_off_boundary_at_23_59_and_00_00(app):
    _set("month_cutoff_day", 27)
    october = periods.month(date(2025, 10, 1))
    assert october.contains(at(2025, 10, 27, 23, 59))
    assert not october.contains(at(2025, 10, 28, 0, 0))
    assert periods.month(date(2025, 10, 28)).contains(at(2025, 10, 28, 0, 0))


def test_terms_and_academic_years(app):
    _set("term_start_dates", ["2025-09-01", "2026-02-23"])
    assert days(periods.term(date(2025, 9, 1))) == ("2025-09-01", "2026-02-23")
    assert days(periods.term(date(2026, 2, 22))) == ("2025-09-01", "2026-02-23")
    assert days(periods.term(date(2026, 2, 23))) == ("2026-02-23", "2026-08-01")
    assert days(periods.academic_year(date(2025, 8, 31))) == ("2024-09-01", "2025-09-01")
    assert days(periods.academic_year(date(2025, 9, 1))) == ("2025-09-01", "2026-09-01")
    _set("academic_year_start_month", 8)
    assert days(periods.academic_year(date(2025, 8, 31))) == ("2025-08-01", "2026-08-01")
    y = periods.academic_year(date(2025, 9, 1))
    assert y.contains(at(2026, 7, 31, 23, 59)) and not y.contains(at(2026, 8, 1, 0, 0))


def test_custom_ranges_keys_and_neighbours(app):
    p = periods.custom(date(2025, 9, 1), date(2025, 9, 30))
    assert days(p) == ("2025-09-01", "2025-10-01") and p.key == "custom:2025-09-01:2025-09-30"
    assert periods.parse(p.key) == p
    m = periods.month(date(2025, 10, 5))
    assert periods.parse(m.key) == m and periods.previous(m).key == "month:2025-09-01"
    assert periods.following(m).key == "month:2025-11-01"
    assert periods.parse("nonsense").kind == "two_weeks"
    assert p.label() == "2025年9月1日—9月30日"


def test_trend_months_end_with_the_periods_month(app):
    months = periods.trend_months(periods.two_weeks(date(2025, 9, 20)))
    assert len(months) == 12 and periods.month_name(months[-1]) == "2025年9月"
    assert periods.month_name(months[0]) == "2024年10月"
