"""Thin blueprints: parse the request, call a service, render the answer."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from caseflow.audit import Actor


def actor(role: str | None = None) -> Actor:
    """Describe the signed-in user and where the request came from, for the audit trail."""
    user = current_user
    roles = getattr(user, "role_names", ()) if user.is_authenticated else ()
    return Actor(
        user_id=user.id if user.is_authenticated else None,
        name=user.username if user.is_authenticated else "anonymous",
        role=role or (roles[0] if roles else None),
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
