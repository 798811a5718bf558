"""Who may see and do what: role + scope (college, class) for cases and tasks.

Every route and service asks here; nothing else decides permissions. Deny by default.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from caseflow import settings
from caseflow.models import Case, TaskRow, User

CASE_READ_ALL = ("student_affairs", "leader")
CASE_ROLES = ("counselor", "college_officer", "psych_center", "security_office",
              "student_affairs", "leader")


def roles(user: User) -> set[str]:
    """Return the user's roles, with the lead office resolved."""
    held = set(user.role_names)
    if settings.lead_office_role() in held:
        held.add("lead_office")
    return held


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
    return or_(*conds) if conds else false()


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


def may_see_case(user: User, case: Case) -> bool:
    """Say whether `user` may open this case file."""
    from caseflow.db import db

    return db.session.scalar(select(Case.id).where(Case.id == case.id, case_filter(user))
                             ) is not None


def may_manage_settings(user: User) -> bool:
    """Say whether `user` may see and change the school settings (admins only)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role("admin")


# -- web screens (issue 4) ---------------------------------------------------------------

REASSIGNERS = ("student_affairs", "lead_office")
CASE_LISTERS = (*CASE_ROLES, "lead_office")


def student_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the students `user` may register a finding about.

    It matches may_register_for; queries using it must join Student to Klass.
    """
    from caseflow.models import Klass, Student

    held = roles(user)
    if held & {"security_office", "student_affairs", "lead_office"}:
        return true()
    conds: list[ColumnElement[bool]] = []
    if "college_officer" in held and user.college_id:
        conds.append(Klass.college_id == user.college_id)
    if "counselor" in held and user.class_ids:
        conds.append(Student.class_id.in_(list(user.class_ids)))
    return or_(*conds) if conds else false()


def may_reassign(user: User, task: TaskRow) -> bool:
    """Say whether `user` may hand an open task to someone else (with a reason)."""
    held = roles(user)
    if held & set(REASSIGNERS):
        return True
    return ("college_officer" in held and user.college_id is not None
            and task.college_id == user.college_id)


def may_list_cases(user: User) -> bool:
    """Say whether `user` may use the case list (its rows are scoped by case_filter)."""
    return bool(roles(user) & set(CASE_LISTERS))


def sees_confidential(user: User) -> bool:
    """Say whether `user` may read fields marked confidential (the psych centre's notes)."""
    return "psych_center" in roles(user)


def may_withdraw(user: User, case: Case) -> bool:
    """Say whether `user` may withdraw (or ask to withdraw) a case: its college officer."""
    return "college_officer" in roles(user) and user.college_id == case.college_id


# -- discovery: police warnings and screening rounds (issue 7) ---------------------------

WARNING_ENTRY = ("security_office", "lead_office")
WARNING_READERS = ("security_office", "lead_office", "student_affairs", "leader")
ROUND_READERS = ("lead_office", "student_affairs", "leader")


def may_enter_warning(user: User) -> bool:
    """Say whether `user` may enter a police warning or resolve its student by hand."""
    return bool(roles(user) & set(WARNING_ENTRY))


def may_see_warnings(user: User) -> bool:
    """Say whether `user` may list warnings (unmatched ones included)."""
    return bool(roles(user) & set(WARNING_READERS))


def may_start_round(user: User) -> bool:
    """Say whether `user` may start a screening round: the lead office."""
    return "lead_office" in roles(user)


def may_see_round(user: User, college_id: int | None = None) -> bool:
    """Say whether `user` may see a round's progress (a college officer: their college)."""
    held = roles(user)
    if held & set(ROUND_READERS):
        return True
    return ("college_officer" in held and college_id is not None
            and user.college_id == college_id)


def may_screen_class(user: User, class_id: int, college_id: int) -> bool:
    """Say whether `user` may submit a class's screening: its counselor or college officer."""
    held = roles(user)
    if "counselor" in held and class_id in user.class_ids:
        return True
    return "college_officer" in held and user.college_id == college_id


def student_page_filter(user: User) -> ColumnElement[bool]:
    """Return a SQL condition selecting the students whose page (重点人员档案) `user` may open.

    Leaders and the lead office see every student; others the students they may register
    about, plus the students of every case they may see. Queries join Student to Klass.
    """
    from caseflow.models import Student

    if roles(user) & {"leader", "student_affairs", "lead_office"}:
        return true()
    return or_(student_filter(user),
               Student.id.in_(select(Case.student_id).where(case_filter(user))))
