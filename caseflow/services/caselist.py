"""The case list and the student search behind registration, scoped by `access`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select

from caseflow import access, timefmt
from caseflow.db import db
from caseflow.models import Case, College, Klass, Student, User
from caseflow.services import NotFound, cases


@dataclass
class CaseQuery:
    """Search text, filters and page of the case list."""

    q: str = ""
    college_id: int | None = None
    class_id: int | None = None
    category: str | None = None
    risk: str | None = None
    state: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


@dataclass
class CaseListRow:
    """One case as the list shows it."""

    case: Case
    student: str
    student_no: str
    college: str
    klass: str


def _like(text: str) -> str:
    """Escape LIKE wildcards so a search for 50% finds the text '50%'."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timefmt.SHANGHAI)


def _conditions(user: User, f: CaseQuery) -> list[ColumnElement[bool]]:
    conds = [access.case_filter(user)]
    text = f.q.strip()
    if text:
        pattern = _like(text)
        conds.append(or_(Case.number.like(pattern, escape="\\"),
                         Student.name.like(pattern, escape="\\"),
                         Student.student_no.like(pattern, escape="\\")))
    for column, value in ((Case.college_id, f.college_id), (Case.class_id, f.class_id),
                          (Case.category, f.category), (Case.risk_level, f.risk),
                          (Case.state, f.state)):
        if value:
            conds.append(column == value)
    if f.date_from:
        conds.append(Case.registered_at >= _day_start(f.date_from))
    if f.date_to:
        conds.append(Case.registered_at < _day_start(f.date_to + timedelta(days=1)))
    return conds


def search(user: User, f: CaseQuery, size: int) -> tuple[list[CaseListRow], int]:
    """Return one page of the cases the user may see that match, newest first."""
    conds = _conditions(user, f)
    ids_query, counted = select(Case.id), select(func.count(Case.id))
    if f.q.strip():  # only a text search needs the student
        ids_query = ids_query.join(Student, Student.id == Case.student_id)
        counted = counted.join(Student, Student.id == Case.student_id)
    # Page by id first (narrow rows sort fast), then load the page's rows with their names.
    ids = db.session.scalars(ids_query.where(*conds)
                             .order_by(Case.registered_at.desc(), Case.id.desc())
                             .limit(size).offset((max(f.page, 1) - 1) * size)).all()
    rows = db.session.execute(
        select(Case, Student.name, Student.student_no, College.name, Klass.name)
        .join(Student, Student.id == Case.student_id)
        .join(College, College.id == Case.college_id)
        .join(Klass, Klass.id == Case.class_id).where(Case.id.in_(ids))).all() if ids else []
    order = {case_id: n for n, case_id in enumerate(ids)}
    rows = sorted(rows, key=lambda row: order[row[0].id])
    total = db.session.scalar(counted.where(*conds)) or 0
    return [CaseListRow(*row) for row in rows], total


def places(user: User) -> tuple[list[College], list[Klass]]:
    """Return the colleges and classes the filters offer (those of the user's scope)."""
    held = access.roles(user)
    colleges = select(College).order_by(College.code)
    classes = select(Klass).order_by(Klass.code)
    if not held & {"student_affairs", "leader", "lead_office", "security_office",
                   "psych_center"}:
        mine = [user.college_id] if user.college_id else []
        colleges = colleges.where(College.id.in_(mine))
        classes = classes.where(or_(Klass.college_id.in_(mine),
                                    Klass.id.in_(list(user.class_ids))))
    return list(db.session.scalars(colleges)), list(db.session.scalars(classes))


@dataclass
class StudentHit:
    """A student found for registration, with the open case a finding would join."""

    student: Student
    klass: Klass
    college: College
    open_case: Case | None


def find_students(user: User, text: str, limit: int = 20) -> list[StudentHit]:
    """Search the students the user may register for, by number or name."""
    text = text.strip()
    if not text or not access.may_register(user):
        return []
    pattern = _like(text)
    rows = db.session.execute(
        select(Student, Klass, College).join(Klass, Klass.id == Student.class_id)
        .join(College, College.id == Klass.college_id)
        .where(access.student_filter(user),
               or_(Student.student_no.like(pattern, escape="\\"),
                   Student.name.like(pattern, escape="\\")))
        .order_by(Student.student_no).limit(limit)).all()
    return [StudentHit(s, k, c, cases.open_case_of(s.id)) for s, k, c in rows
            if access.may_register_for(user, s)]


def student_for(user: User, student_id: int) -> StudentHit:
    """Return a student the user may register for, or raise NotFound."""
    student = db.session.get(Student, student_id)
    if student is None or not access.may_register(user) \
            or not access.may_register_for(user, student):
        raise NotFound(f"no student {student_id}")
    klass = db.session.get(Klass, student.class_id)
    assert klass is not None
    college = db.session.get(College, klass.college_id)
    assert college is not None
    return StudentHit(student, klass, college, cases.open_case_of(student.id))



def student_by_number(user: User, student_no: str) -> StudentHit:
    """Return the student with this number if the user may register for them, else NotFound."""
    student_id = db.session.scalar(select(Student.id).where(
        Student.student_no == student_no.strip()))
    if student_id is None:
        raise NotFound(f"no student {student_no}")
    return student_for(user, student_id)
