"""Who sees which cases on the dashboard, and when a case counts in a period.

A case counts in the period of when it happened (its 案发时间) or, by the setting
`case_counts_by`, when it was registered; at-risk cases always count by registration.
发案 is a victim or involved case not withdrawn. Every figure is scoped twice: by
`access.case_filter` and by the places (college, classes) the viewer's roles report on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    cast,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
)

from caseflow import access, settings
from caseflow.models import Case, Finding, User
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
    the table, while each branch alone is an index-only range scan (migration 0010): the
    happened one on ix_case_happened_figures, the at-risk one on ix_case_category_registered
    (only at-risk rows), the one without 案发时间 on the happened index's NULL prefix.
    """
    return [cond for _column, cond in timed_branches(p.start, p.end)]


def timed_branches(start: datetime, end: datetime) -> list[tuple[Any, ColumnElement[bool]]]:
    """Return branches() of start..end, each with the time column that places its cases."""
    registered = between(Case.registered_at, start, end)
    if by_registration():
        return [(Case.registered_at, registered)]
    return [(Case.happened_at, and_(between(Case.happened_at, start, end), ~_is_at_risk())),
            (Case.registered_at, and_(Case.category == "at_risk", registered)),
            (Case.registered_at, and_(Case.happened_at.is_(None), registered,
                                      ~_is_at_risk()))]


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
    # a case's opening finding has its registration time, so the first branch holds it
    found = select(Finding.case_id).where(Finding.opening.is_(False),
                                          between(Finding.created_at, since, until))
    # coalesce(): the registration or finding time drives the index, not 'happened before'
    return and_(counted(), func.coalesce(Case.happened_at, p.start) < p.start,
                or_(between(Case.registered_at, since, until), Case.id.in_(found)))


def raw_time(column: Any) -> Any:
    """Select a timestamp as the driver returns it, skipping the per-row UTC conversion.

    For figures that only subtract two times of one row over thousands of rows: SQLite
    gives the stored UTC text, PostgreSQL an aware datetime; seconds_between takes both.
    """
    return type_coerce(column, String)


def seconds_between(earlier: Any, later: Any) -> float:
    """Return later − earlier in seconds, for two raw_time() values of one row."""
    return (_moment(later) - _moment(earlier)).total_seconds()


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
