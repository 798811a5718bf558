"""The roles a user holds, with the lead office resolved: what every access rule starts from."""

from __future__ import annotations

from caseflow import settings
from caseflow.models import User


def roles(user: User) -> set[str]:
    """Return the user's roles, with the lead office resolved."""
    held = set(user.role_names)
    if settings.lead_office_role() in held:
        held.add("lead_office")
    return held


def may_administer(user: User) -> bool:
    """Say whether `user` is an administrator (users, organisation, deployments)."""
    return bool(getattr(user, "is_authenticated", False)) and "admin" in roles(user)
