"""Who may see and do what: role + scope (college, class) for cases, tasks, students, fields.

Every route and service asks here; nothing else decides permissions. Deny by default:
an endpoint missing from ROUTES is refused, an object outside the user's scope answers
404 (never 403, so ids cannot be probed) and the refusal is audited (`access_denied`).

The one door for objects is `get_case` / `get_task` / `get_student`: each loads and checks
together, so a route cannot forget the check.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true

# Every route's rule lives in access.routes, the roles in access.roles and the rules of
# discovery (warnings, screening rounds) in access.discovery; re-exported so there is one door.
from caseflow.access.discovery import ROUND_READERS as ROUND_READERS
from caseflow.access.discovery import WARNING_ENTRY as WARNING_ENTRY
from caseflow.access.discovery import WARNING_READERS as WARNING_READERS
from caseflow.access.discovery import may_enter_warning as may_enter_warning
from caseflow.access.discovery import may_open_round as may_open_round
from caseflow.access.discovery import may_screen_class as may_screen_class
from caseflow.access.discovery import may_see_round as may_see_round
from caseflow.access.discovery import may_see_warnings as may_see_warnings
from caseflow.access.discovery import may_start_round as may_start_round
from caseflow.access.roles import may_administer as may_administer
from caseflow.access.roles import roles as roles
from caseflow.access.routes import ADMIN as ADMIN
from caseflow.access.routes import PUBLIC as PUBLIC
from caseflow.access.routes import ROUTES as ROUTES
from caseflow.access.routes import SIGNED_IN as SIGNED_IN
from caseflow.access.routes import TOKEN as TOKEN
from caseflow.access.routes import route_rule as route_rule
from caseflow.models import Case, Student, TaskRow, User
from caseflow.services import NotFound

CASE_READ_ALL = ("student_affairs", "leader")
CASE_ROLES = ("counselor", "college_officer", "psych_center", "security_office",
              "student_affairs", "leader")


# -- cases ---------------------------------------------------------------------------------


def _flagged(*flags: str) -> ColumnElement[bool]:
    """Match cases whose JSON flags hold any of `flags` set to true."""
    return or_(*[Case.flags.like(f'%"{flag}":{space}true%')
                 for flag in flags for space in (" ", "")])


def case_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the cases `user` may see."""
    held = roles(user)
    if held & {*CASE_READ_ALL, "lead_office"}:
        return true()
    conds: list[ColumnElement[bool]] = []
    if "college_officer" in held and user.college_id:
        conds.append(Case.college_id == user.college_id)
    if "counselor" in held:
        class_ids = list(user.class_ids)
        if class_ids:
            conds.append(Case.class_id.in_(class_ids))
        conds.append(Case.counselor_id == user.id)
    if held & {"counselor", "college_officer", "security_office"}:
        conds.append(Case.registered_by == user.id)
    if held & {"psych_center", "security_office"}:
        role_names = [r for r in ("psych_center", "security_office") if r in held]
        conds.append(Case.id.in_(select(TaskRow.case_id).where(TaskRow.role.in_(role_names))))
    if "security_office" in held:
        conds.append(_flagged("need_police", "need_stop_payment"))
    if held & set(CASE_ROLES):  # a task handed to you opens its case to you
        conds.append(Case.id.in_(select(TaskRow.case_id).where(TaskRow.assignee_id == user.id)))
    return or_(*conds) if conds else false()


def may_see_case(user: User, case: Case) -> bool:
    """Say whether `user` may open this case file."""
    from caseflow.db import db

    return db.session.scalar(select(Case.id).where(Case.id == case.id, case_filter(user))
                             ) is not None


def may_list_cases(user: User) -> bool:
    """Say whether `user` may use the case list (its rows are scoped by case_filter)."""
    return bool(roles(user) & set(CASE_LISTERS))


def may_withdraw(user: User, case: Case) -> bool:
    """Say whether `user` may withdraw (or ask to withdraw) a case: its college officer."""
    return "college_officer" in roles(user) and user.college_id == case.college_id


# -- tasks ---------------------------------------------------------------------------------


def task_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the open tasks `user` may work on."""
    held = roles(user)
    conds: list[ColumnElement[bool]] = [TaskRow.assignee_id == user.id]
    for role in held:
        if role == "counselor":
            class_ids = list(user.class_ids)
            if class_ids:
                conds.append((TaskRow.role == role) & TaskRow.assignee_id.is_(None)
                             & TaskRow.class_id.in_(class_ids))
        elif role == "college_officer":
            if user.college_id:
                conds.append((TaskRow.role == role) & (TaskRow.college_id == user.college_id))
        elif role in ("psych_center", "security_office", "student_affairs", "admin"):
            conds.append(TaskRow.role == role)
    return or_(*conds)


def may_work_on(user: User, task: TaskRow) -> bool:
    """Say whether `user` may claim or complete `task`."""
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    held = roles(user)
    if task.role not in held:
        return False
    if task.role == "counselor":
        return task.class_id in user.class_ids
    if task.role == "college_officer":
        return task.college_id == user.college_id
    return True


def may_see_task(user: User, task: TaskRow) -> bool:
    """Say whether `user` may open a task screen: to work on it, or the one who completed it."""
    if task.state == "ready":
        return may_work_on(user, task)
    return task.completed_by == user.id


REASSIGNERS = ("student_affairs", "lead_office")
CASE_LISTERS = (*CASE_ROLES, "lead_office")


def may_reassign(user: User, task: TaskRow) -> bool:
    """Say whether `user` may hand an open task to someone else (with a reason)."""
    held = roles(user)
    if held & set(REASSIGNERS):
        return True
    return ("college_officer" in held and user.college_id is not None
            and task.college_id == user.college_id)


def holds_task(case: Case, role: str) -> bool:
    """Say whether `role` holds (or held) a task of `case`."""
    from caseflow.db import db

    return bool(db.session.scalar(select(exists().where(TaskRow.case_id == case.id,
                                                        TaskRow.role == role))))


# -- students and registration ----------------------------------------------------------


def may_register(user: User) -> bool:
    """Say whether `user` may register a case."""
    return bool(roles(user) & {"counselor", "college_officer", "security_office",
                               "student_affairs", "lead_office"})


def may_register_for(user: User, student: object) -> bool:
    """Say whether `user` may register a finding about `student`."""
    held = roles(user)
    if held & {"security_office", "student_affairs", "lead_office"}:
        return True
    klass = getattr(student, "klass", None)
    if "college_officer" in held and klass is not None and klass.college_id == user.college_id:
        return True
    return "counselor" in held and getattr(student, "class_id", None) in user.class_ids


def student_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the students `user` may register a finding about.

    It matches may_register_for; queries using it must join Student to Klass.
    """
    from caseflow.models import Klass

    held = roles(user)
    if held & {"security_office", "student_affairs", "lead_office"}:
        return true()
    conds: list[ColumnElement[bool]] = []
    if "college_officer" in held and user.college_id:
        conds.append(Klass.college_id == user.college_id)
    if "counselor" in held and user.class_ids:
        conds.append(Student.class_id.in_(list(user.class_ids)))
    return or_(*conds) if conds else false()


def student_page_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the students whose page (重点人员档案) `user` may open.

    Leaders, student affairs and the lead office see every student; counselors the students
    of their classes, college officers those of their college, the security office those
    of its warnings; everyone also the students of every case they may see. Queries join
    Student to Klass.
    """
    from caseflow.models import Klass, PoliceWarning

    held = roles(user)
    if held & {"leader", "student_affairs", "lead_office"}:
        return true()
    conds = [Student.id.in_(select(Case.student_id).where(case_filter(user)))]
    if "college_officer" in held and user.college_id:
        conds.append(Klass.college_id == user.college_id)
    if "counselor" in held and user.class_ids:
        conds.append(Student.class_id.in_(list(user.class_ids)))
    if "security_office" in held:
        conds.append(Student.id.in_(select(PoliceWarning.student_id)
                                    .where(PoliceWarning.student_id.is_not(None))))
    return or_(*conds)


def may_see_student(user: User, student: Student) -> bool:
    """Say whether `user` may open this student's page."""
    from caseflow.db import db
    from caseflow.models import Klass

    return db.session.scalar(select(Student.id).join(Klass, Klass.id == Student.class_id)
                             .where(Student.id == student.id, student_page_filter(user))
                             ) is not None


# -- fields: confidential notes, and revealing a masked number ------------------------------

REVEALABLE = ("phone", "guardian_phone", "id_card", "bank_account")


def sees_confidential(user: User) -> bool:
    """Say whether `user` may read fields marked confidential (the psych centre's notes)."""
    return "psych_center" in roles(user)


def may_reveal(user: User, field: str, case: Case | None = None,
               student: Student | None = None) -> bool:
    """Say whether `user` may reveal one masked number of a case (or of a student).

    Phones of the student and guardians: the counselor and college officer of the case,
    and the security office on cases where it holds a task; the ID card: the security
    office and the lead office; a bank account: the security office. Never outside scope.
    """
    held = roles(user)
    if field not in REVEALABLE or not held:
        return False
    if case is not None:
        return may_see_case(user, case) and _reveal_on_case(user, held, field, case)
    if student is not None:
        return may_see_student(user, student) and _reveal_on_student(user, held, field,
                                                                       student)
    return False


def _reveal_on_case(user: User, held: set[str], field: str, case: Case) -> bool:
    if field in ("phone", "guardian_phone"):
        if "counselor" in held and (case.counselor_id == user.id
                                    or case.class_id in user.class_ids):
            return True
        if "college_officer" in held and case.college_id == user.college_id:
            return True
        return "security_office" in held and holds_task(case, "security_office")
    if field == "id_card":
        return bool(held & {"security_office", "lead_office"})
    return field == "bank_account" and "security_office" in held


def _reveal_on_student(user: User, held: set[str], field: str, student: Student) -> bool:
    if field in ("phone", "guardian_phone"):
        if "counselor" in held and student.class_id in user.class_ids:
            return True
        return "college_officer" in held and student.klass.college_id == user.college_id
    return field == "id_card" and bool(held & {"security_office", "lead_office"})


# -- settings and administration ----------------------------------------------------------


def may_manage_settings(user: User) -> bool:
    """Say whether `user` may see and change the school settings (admins only)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role("admin")


def may_manage_users(user: User) -> bool:
    """Say whether `user` may manage accounts, roles, second factors and API tokens."""
    return may_administer(user)


# -- the one door: load and check together ---------------------------------------------

READ, WORK, WITHDRAW, EXPORT, REASSIGN = "read", "work", "withdraw", "export", "reassign"


def may(user: User, need: str, obj: Any) -> bool:
    """Say whether `user` may do `need` to `obj` (a case, task or student); deny otherwise.

    `need` is READ, WORK, WITHDRAW, EXPORT, REASSIGN or `reveal:<field>`.
    """
    if need.startswith("reveal:"):
        field = need.removeprefix("reveal:")
        if isinstance(obj, Case):
            return may_reveal(user, field, case=obj)
        return isinstance(obj, Student) and may_reveal(user, field, student=obj)
    if isinstance(obj, Case):
        if need in (READ, EXPORT):
            return may_see_case(user, obj)
        return need == WITHDRAW and may_see_case(user, obj) and may_withdraw(user, obj)
    if isinstance(obj, TaskRow):
        checks = {WORK: may_work_on, READ: may_see_task, REASSIGN: may_reassign}
        check = checks.get(need)
        return bool(check and check(user, obj))
    return isinstance(obj, Student) and need == READ and may_see_student(user, obj)


def get_case(case_id: int, user: User, need: str = READ, *, actor: Any = None) -> Case:
    """Load a case `user` may `need`; else audit the refusal and raise NotFound."""
    from caseflow.db import db

    case = db.session.get(Case, case_id)
    if case is None or not may(user, need, case):
        raise refuse("case", case_id, actor or _actor(user), case_id=case.id if case else None,
                     detail={"need": need})
    return case


def get_task(task_id: int, user: User, need: str = WORK, *, actor: Any = None) -> TaskRow:
    """Load a task `user` may `need`; else audit the refusal and raise NotFound."""
    from caseflow.db import db

    task = db.session.get(TaskRow, task_id)
    if task is None or not may(user, need, task):
        raise refuse("task", task_id, actor or _actor(user), detail={"need": need})
    return task


def get_student(student_id: int, user: User, need: str = READ, *, actor: Any = None
                ) -> Student:
    """Load a student `user` may `need`; else audit the refusal and raise NotFound."""
    from caseflow.db import db

    student = db.session.get(Student, student_id)
    if student is None or not may(user, need, student):
        raise refuse("student", student_id, actor or _actor(user), detail={"need": need})
    return student


def refuse(kind: str, object_id: int, actor: Any, case_id: int | None = None,
           detail: dict[str, Any] | None = None) -> NotFound:
    """Record an `access_denied` event (committed) and return the NotFound to raise."""
    from caseflow import audit
    from caseflow.db import db

    audit.record("access_denied", actor, case_id=case_id, result="refused",
                 detail={"object": kind, "id": object_id, **(detail or {})})
    db.session.commit()
    return NotFound(f"no {kind} {object_id}")


def _actor(user: User) -> Any:
    """Describe `user` (and the request, if any) for the audit trail."""
    from flask import has_request_context, request

    from caseflow.audit import Actor

    held = tuple(getattr(user, "role_names", ()) or ())
    web = has_request_context()
    return Actor(getattr(user, "id", None), getattr(user, "username", "anonymous"),
                 held[0] if held else None, request.remote_addr if web else None,
                 request.headers.get("User-Agent") if web else None)
