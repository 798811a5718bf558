"""What the screening screens and reports show: a round's classes, late classes, unreached
students and coverage; the list of rounds, a class's task, a college's progress.

Read-only views over `screening_round` / `screening_class` / `screening_entry`, scoped
alike: the readers of rounds see the school, a college officer their college; anyone else
is refused (`Forbidden`, which the screens answer with 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, true

from caseflow import access, clock
from caseflow.db import db
from caseflow.models import (
    College,
    Klass,
    ScreeningClass,
    ScreeningCollege,
    ScreeningEntry,
    ScreeningRound,
    Student,
    TaskRow,
    User,
)
from caseflow.services import Forbidden, NotFound
from workflows import class_screening as cs

ROUND_PAGE = 50  # the rounds page lists the latest fifty


@dataclass(frozen=True)
class ClassProgress:
    """One class of a round, as the lists show it."""

    screening_class_id: int
    class_code: str
    class_name: str
    college: str
    counselor_id: int | None
    students: int
    state: str
    due_at: datetime
    late: bool


@dataclass(frozen=True)
class Unreached:
    """A student not reached in a round."""

    student_no: str
    name: str
    class_code: str
    college: str
    reason: str | None
    followup_on: Any


def latest_round() -> ScreeningRound | None:
    """Return the most recently started round."""
    return db.session.scalar(select(ScreeningRound).order_by(ScreeningRound.id.desc()).limit(1))


def _round(round_id: int | None, user: User | None) -> tuple[ScreeningRound, Any]:
    rnd = db.session.get(ScreeningRound, round_id) if round_id else latest_round()
    if rnd is None:
        raise NotFound("no screening round")
    return rnd, true() if user is None else _scope(user)


def classes(round_id: int | None = None, user: User | None = None, late_only: bool = False
            ) -> list[ClassProgress]:
    """List a round's classes (late ones: open past the due date), by college and class."""
    rnd, scope = _round(round_id, user)
    now = clock.now()
    conds = [ScreeningClass.round_id == rnd.id, scope]
    if late_only:
        conds += [ScreeningClass.state == "open", ScreeningClass.due_at < now]
    rows = db.session.execute(
        select(ScreeningClass, Klass, College.name).join(Klass, Klass.id == ScreeningClass.class_id)
        .join(College, College.id == ScreeningClass.college_id).where(*conds)
        .order_by(College.code, Klass.code)).all()
    return [ClassProgress(sc.id, k.code, k.name, college, sc.counselor_id, sc.students,
                          sc.state, sc.due_at, sc.state == "open" and sc.due_at < now)
            for sc, k, college in rows]


def late_classes(round_id: int | None = None, user: User | None = None) -> list[ClassProgress]:
    """List the classes whose screening is past the round's due date and not done."""
    return classes(round_id, user, late_only=True)


def unreached_students(round_id: int | None = None, user: User | None = None
                       ) -> list[Unreached]:
    """List the students a round could not reach, with the reason and follow-up date."""
    rnd, scope = _round(round_id, user)
    rows = db.session.execute(
        select(Student.student_no, Student.name, Klass.code, College.name,
               ScreeningEntry.reason, ScreeningEntry.followup_on)
        .join(Student, Student.id == ScreeningEntry.student_id)
        .join(ScreeningClass, ScreeningClass.id == ScreeningEntry.screening_class_id)
        .join(Klass, Klass.id == ScreeningEntry.class_id)
        .join(College, College.id == ScreeningClass.college_id)
        .where(ScreeningEntry.round_id == rnd.id, ScreeningEntry.status == "not_reached", scope)
        .order_by(College.code, Klass.code, Student.student_no)).all()
    return [Unreached(*row) for row in rows]


def coverage(round_id: int | None = None, user: User | None = None) -> dict[str, Any]:
    """Count a round's coverage per student: in scope, covered, and by status."""
    rnd, scope = _round(round_id, user)
    in_scope = db.session.scalar(select(func.coalesce(func.sum(ScreeningClass.students), 0))
                                 .where(ScreeningClass.round_id == rnd.id, scope))
    by_status = dict(db.session.execute(
        select(ScreeningEntry.status, func.count(ScreeningEntry.id))
        .join(ScreeningClass, ScreeningClass.id == ScreeningEntry.screening_class_id)
        .where(ScreeningEntry.round_id == rnd.id, scope).group_by(ScreeningEntry.status)).all())
    return {"round": rnd.number, "students": int(in_scope or 0),
            "covered": sum(by_status.values()), **{s: by_status.get(s, 0)
                                                   for s in cs.STATUS_CHOICES}}


@dataclass(frozen=True)
class RoundSummary:
    """One round in the list, counted within the viewer's scope."""

    round: ScreeningRound
    college: str | None
    students: int
    covered: int
    classes: int
    done: int
    late: int


@dataclass(frozen=True)
class CollegeProgress:
    """A college's part of a round, as its review task shows it."""

    round: ScreeningRound
    college: str
    classes: list[ClassProgress]
    done: int
    late: int
    students: int
    covered: int
    flagged: int
    not_reached: int


def may_list(user: User) -> bool:
    """Say whether `user` may open the rounds page (school readers, college officers)."""
    return access.may_see_round(user) or access.may_see_round(user, user.college_id)


def _scope(user: User) -> Any:
    if access.may_see_round(user):
        return true()
    if access.may_see_round(user, user.college_id):
        return ScreeningClass.college_id == user.college_id
    raise Forbidden("your role may not see screening rounds")


def rounds(user: User) -> list[RoundSummary]:
    """List the latest rounds, newest first, with their coverage in `user`'s scope."""
    scope, now = _scope(user), clock.now()
    found = db.session.scalars(select(ScreeningRound).order_by(ScreeningRound.id.desc())
                               .limit(ROUND_PAGE)).all()
    if not found:
        return []
    ids = [r.id for r in found]
    late = case((_open_late(now), 1), else_=0)
    counts = {row[0]: row[1:] for row in db.session.execute(
        select(ScreeningClass.round_id, func.count(ScreeningClass.id),
               func.sum(case((ScreeningClass.state == "done", 1), else_=0)), func.sum(late),
               func.sum(ScreeningClass.students),
               func.sum(ScreeningClass.talked + ScreeningClass.flagged
                        + ScreeningClass.not_reached))
        .where(ScreeningClass.round_id.in_(ids), scope).group_by(ScreeningClass.round_id))}
    colleges = dict(db.session.execute(select(College.id, College.name)).all())
    out = []
    for rnd in found:
        classes, done, late_n, students, covered = counts.get(rnd.id, (0, 0, 0, 0, 0))
        out.append(RoundSummary(rnd, colleges.get(rnd.college_id), int(students or 0),
                                int(covered or 0), int(classes or 0), int(done or 0),
                                int(late_n or 0)))
    return out


def _open_late(now: Any) -> Any:
    """Return the SQL condition of a class screening still open past its due date."""
    return (ScreeningClass.state == "open") & (ScreeningClass.due_at < now)


def round_for(round_id: int, user: User) -> ScreeningRound:
    """Load a round `user` may see, or raise NotFound / Forbidden.

    A round outside the user's scope (a college officer's college has no class in it) is
    NotFound, like a round that does not exist.
    """
    _scope(user)
    rnd = db.session.get(ScreeningRound, round_id)
    if rnd is None or not access.may_open_round(user, round_colleges(rnd.id)):
        raise NotFound(f"no screening round {round_id}")
    return rnd


def round_colleges(round_id: int) -> set[int]:
    """Return the colleges with classes in a round."""
    return set(db.session.scalars(select(ScreeningClass.college_id).distinct()
                                  .where(ScreeningClass.round_id == round_id)))


def colleges() -> list[College]:
    """Return the colleges a round may be limited to, by code."""
    return list(db.session.scalars(select(College).order_by(College.code)))


def counselor_names(classes: list[ClassProgress]) -> dict[int, str]:
    """Return the display names of the counselors of the listed classes."""
    ids = {c.counselor_id for c in classes if c.counselor_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.display_name)
                                   .where(User.id.in_(ids))).all())


def class_of_task(task: TaskRow) -> ScreeningClass | None:
    """Return the class screening a `screen_class` task belongs to (else None)."""
    return db.session.scalar(select(ScreeningClass).where(ScreeningClass.task_id == task.id))


def class_for(screening_class_id: int, user: User) -> ScreeningClass:
    """Load a class screening `user` may submit (its counselor or college officer)."""
    sc = db.session.get(ScreeningClass, screening_class_id)
    if sc is None:
        raise NotFound(f"no class screening {screening_class_id}")
    if not access.may_screen_class(user, sc.class_id, sc.college_id):
        raise Forbidden("only the class's counselor or college officer may do this")
    return sc


def college_progress(task: TaskRow) -> CollegeProgress | None:
    """Return the progress of the college whose round review `task` is (else None)."""
    part = db.session.scalar(select(ScreeningCollege).where(
        ScreeningCollege.instance_id == task.instance_id))
    if part is None:
        return None
    rnd = db.session.get(ScreeningRound, part.round_id)
    rows = db.session.scalars(select(ScreeningClass).where(
        ScreeningClass.round_id == rnd.id, ScreeningClass.college_id == part.college_id)).all()
    mine = {sc.id for sc in rows}
    listed = [c for c in classes(rnd.id) if c.screening_class_id in mine]
    return CollegeProgress(
        rnd, _college_name(part), listed, sum(sc.state == "done" for sc in rows),
        sum(c.late for c in listed), sum(sc.students for sc in rows),
        sum(sc.talked + sc.flagged + sc.not_reached for sc in rows),
        sum(sc.flagged for sc in rows), sum(sc.not_reached for sc in rows))


def _college_name(part: ScreeningCollege) -> str:
    return db.session.scalar(select(College.name).where(College.id == part.college_id)) or ""
