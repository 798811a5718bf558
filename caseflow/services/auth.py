"""Check passwords and record sign-ins."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from caseflow import audit
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import User

# Compared against when the username is unknown, so timing says nothing either way.
_DUMMY_HASH = generate_password_hash("caseflow-dummy-password", method="scrypt")


def hash_password(password: str) -> str:
    """Return a slow (scrypt) hash of a password."""
    return generate_password_hash(password, method="scrypt")


def authenticate(username: str, password: str, actor: Actor) -> User | None:
    """Return the active user with this username and password, or None (audited)."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        audit.record("login_failed", actor, result="refused",
                     detail={"username": username.strip()[:50]})
        db.session.commit()
        return None
    return user


def signed_in(user: User, actor: Actor) -> None:
    """Record a sign-in."""
    audit.record("login_succeeded", Actor(user.id, user.username, actor.role, actor.ip,
                                          actor.user_agent))
    db.session.commit()


def signed_out(actor: Actor) -> None:
    """Record a sign-out."""
    audit.record("logout_succeeded", actor)
    db.session.commit()
