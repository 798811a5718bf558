"""Reporting periods in Asia/Shanghai: week, two-week window, half-month, month (with a
cut-off day), term, academic year, and custom ranges (SPEC "Periods, time and money").

A period is a half-open range [start, end) of aware Asia/Shanghai datetimes. The school
settings give the term start dates (two-week windows run from the Monday of a term's
first week), the month cut-off day d (month M runs from day d+1 of the month before,
00:00, to day d+1 of M, 00:00; 0 means the calendar month) and the month the academic
year starts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from caseflow import clock, settings, timefmt

KINDS = ("week", "two_weeks", "half_month", "month", "term", "academic_year", "custom")
TREND_MONTHS = 12


@dataclass(frozen=True)
class Period:
    """A reporting period: [start, end) in Asia/Shanghai."""

    kind: str
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        """Return the period's first day."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """Return the period's last day (the day before `end`)."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def key(self) -> str:
        """Return a URL token that gives this period back through `parse`."""
        if self.kind == "custom":
            return f"custom:{self.first_day}:{self.last_day}"
        return f"{self.kind}:{self.first_day}"

    def label(self) -> str:
        """Name the period in Chinese: 2025年9月1日—9月14日."""
        a, b = self.first_day, self.last_day
        tail = f"{b.month}月{b.day}日" if a.year == b.year else f"{b.year}年{b.month}月{b.day}日"
        return f"{a.year}年{a.month}月{a.day}日—{tail}"

    def contains(self, moment: datetime) -> bool:
        """Say whether `moment` falls in the period."""
        return self.start <= moment < self.end


def _at(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timefmt.SHANGHAI)


def local_day(moment: datetime | None = None) -> date:
    """Return the Asia/Shanghai date of `moment` (default: now)."""
    value = timefmt.local(moment or clock.now())
    assert value is not None
    return value.date()


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def week(day: date) -> Period:
    """Return the week (Monday 00:00 to Monday 00:00) that holds `day`."""
    start = _monday(day)
    return Period("week", _at(start), _at(start + timedelta(days=7)))


def _term_starts() -> list[date]:
    days = sorted(date.fromisoformat(d) for d in settings.get("term_start_dates") or [])
    return days or []


def _year_start(day: date) -> date:
    month = int(settings.get("academic_year_start_month") or 9)
    year = day.year if day.month >= month else day.year - 1
    return date(year, month, 1)


def _fallback_terms(day: date) -> list[date]:
    """Two terms a year from the academic year's start when none are configured."""
    first = _year_start(day)
    return [_add_months(first, -6), first, _add_months(first, 6), _add_months(first, 12)]


def _term_bounds(day: date) -> tuple[date, date]:
    starts = _term_starts()
    if not starts or day < starts[0] or day >= _add_months(starts[-1], 6):
        first, known_end = (starts[0], _add_months(starts[-1], 6)) if starts else (day, day)
        extra = [s for s in _fallback_terms(day) if not starts or s < first or s >= known_end]
        starts = sorted({*starts, *extra})
    start = [s for s in starts if s <= day][-1]
    later = [s for s in starts if s > start]
    return start, later[0] if later else _add_months(start, 6)


def term(day: date) -> Period:
    """Return the term that holds `day`: from its start date to the next term's start."""
    start, end = _term_bounds(day)
    return Period("term", _at(start), _at(end))


def two_weeks(day: date) -> Period:
    """Return the two-week window that holds `day`, counted from the Monday of the term's
    first week; the last window of a term stops where the next term's windows begin."""
    start, end = _term_bounds(day)
    anchor, next_anchor = _monday(start), _monday(end)
    if day >= next_anchor:  # the next term's first week began before its start date
        anchor, next_anchor = next_anchor, _monday(_term_bounds(end)[1])
    first = anchor + timedelta(days=14 * ((day - anchor).days // 14))
    return Period("two_weeks", _at(first), _at(min(first + timedelta(days=14), next_anchor)))


def half_month(day: date) -> Period:
    """Return the half-month (1st–15th or 16th–end) that holds `day`."""
    if day.day <= 15:
        return Period("half_month", _at(day.replace(day=1)), _at(day.replace(day=16)))
    return Period("half_month", _at(day.replace(day=16)), _at(_add_months(day, 1)))


def _month_boundary(year: int, month: int, cutoff: int) -> date:
    """Return where month (year, month) ends: day cutoff+1 of it, or the 1st after it."""
    if cutoff <= 0:
        return _add_months(date(year, month, 1), 1)
    return date(year, month, cutoff) + timedelta(days=1)


def month(day: date, cutoff: int | None = None) -> Period:
    """Return the reporting month that holds `day` (cut-off day from the settings)."""
    d = int(settings.get("month_cutoff_day") if cutoff is None else cutoff)
    base = day.replace(day=1)
    if d > 0 and day.day > d:
        base = _add_months(base, 1)  # after the cut-off a day counts in the next month
    before = _add_months(base, -1)
    start = _month_boundary(before.year, before.month, d)
    return Period("month", _at(start), _at(_month_boundary(base.year, base.month, d)))


def month_name(p: Period) -> str:
    """Name a reporting month by the month it reports (2025年10月)."""
    named = p.last_day
    return f"{named.year}年{named.month}月"


def academic_year(day: date) -> Period:
    """Return the academic year that holds `day` (from the 1st of its start month)."""
    start = _year_start(day)
    return Period("academic_year", _at(start), _at(_add_months(start, 12)))


def calendar_year(day: date) -> Period:
    """Return the calendar year that holds `day`."""
    return Period("calendar_year", _at(date(day.year, 1, 1)), _at(date(day.year + 1, 1, 1)))


def custom(first: date, last: date) -> Period:
    """Return the days first..last (both included)."""
    if last < first:
        first, last = last, first
    return Period("custom", _at(first), _at(last + timedelta(days=1)))


MAKERS = {"week": week, "two_weeks": two_weeks, "half_month": half_month, "month": month,
          "term": term, "academic_year": academic_year, "calendar_year": calendar_year}


def of_kind(kind: str, day: date | None = None) -> Period:
    """Return the period of `kind` that holds `day` (default: today)."""
    return MAKERS[kind](day or local_day())


def parse(key: str | None, default_kind: str = "two_weeks") -> Period:
    """Read a period token ('month:2025-10-01', 'custom:2025-09-01:2025-09-30')."""
    parts = (key or "").split(":")
    try:
        if parts[0] == "custom" and len(parts) == 3:
            return custom(date.fromisoformat(parts[1]), date.fromisoformat(parts[2]))
        if parts[0] in MAKERS and len(parts) == 2:
            return of_kind(parts[0], date.fromisoformat(parts[1]))
    except ValueError:
        pass
    return of_kind(default_kind)


def previous(p: Period) -> Period:
    """Return the period of the same kind just before `p`."""
    if p.kind == "custom":
        return custom(p.first_day - (p.end - p.start), p.first_day - timedelta(days=1))
    return of_kind(p.kind, p.first_day - timedelta(days=1))


def following(p: Period) -> Period:
    """Return the period of the same kind just after `p`."""
    if p.kind == "custom":
        length = p.end - p.start
        return custom(p.last_day + timedelta(days=1), p.last_day + length)
    return of_kind(p.kind, p.end.date())


def trend_months(p: Period, count: int = TREND_MONTHS) -> list[Period]:
    """Return the `count` reporting months up to the one holding the period's last day."""
    out = [month(p.last_day)]
    while len(out) < count:
        out.insert(0, month(out[0].first_day - timedelta(days=1)))
    return out


def fraud_free_window(p: Period) -> Period:
    """Return the window a fraud-free candidate must be clean in (a setting), holding `p`."""
    kind = str(settings.get("fraud_free_window") or "academic_year")
    return MAKERS.get(kind, academic_year)(p.last_day)
