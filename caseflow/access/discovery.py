"""Who may enter and read police warnings and start, see and submit screening rounds."""

from __future__ import annotations

from collections.abc import Collection

from caseflow.access.roles import roles
from caseflow.models import User

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


def may_open_round(user: User, college_ids: Collection[int]) -> bool:
    """Say whether `user` may open a round whose classes are in `college_ids`: a reader of
    rounds any round, a college officer only a round holding classes of their college."""
    return may_see_round(user) or any(may_see_round(user, c) for c in college_ids)


def may_screen_class(user: User, class_id: int, college_id: int) -> bool:
    """Say whether `user` may submit a class's screening: its counselor or college officer."""
    held = roles(user)
    if "counselor" in held and class_id in user.class_ids:
        return True
    return "college_officer" in held and user.college_id == college_id
