"""Check passwords, throttle sign-in attempts, and keep the record of signed-in sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from caseflow import audit, clock, security
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import LoginSession, User
from caseflow.services import ValidationFailed

# Compared against when the username is unknown, so timing says nothing either way.
_DUMMY_HASH = generate_password_hash("caseflow-dummy-password", method="scrypt")
MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"


def hash_password(password: str) -> str:
    """Return a slow (scrypt) hash of a password."""
    return generate_password_hash(password, method="scrypt")


@dataclass
class Attempt:
    """The outcome of a sign-in attempt: the user, or why not (never which part was wrong)."""

    user: User | None
    locked_until: datetime | None = None


def check_sign_in(username: str, password: str, actor: Actor) -> Attempt:
    """Check a username and password, throttled per account name and per address (audited).

    While a lockout runs the password is not even checked. Five failures (per account
    name, known or not) lock it for a minute, the next five for two, then four…
    """
    now = clock.now()
    keys = security.throttle_keys(username, actor.ip)
    name = username.strip()[:50]
    until = security.locked_until(keys, now)
    if until is not None:
        audit.record("login_failed", actor, result="refused",
                     detail={"username": name, "reason": "locked"})
        db.session.commit()
        return Attempt(None, until)
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        audit.record("login_failed", actor, result="refused", detail={"username": name})
        _count_failure(keys, now, name, actor)
        db.session.commit()
        return Attempt(None, security.locked_until(keys, now))
    return Attempt(user)


def _count_failure(keys: list[str], now: datetime, name: str, actor: Actor) -> None:
    for key, until, lockout in security.note_failure(keys, now):
        audit.record("login_locked", actor, result="refused",
                     detail={"username": name, "by": key.split(":", 1)[0],
                             "until": until.isoformat(), "lockout": lockout})


def second_factor_failed(user: User, actor: Actor) -> datetime | None:
    """Count a wrong second-factor code like a wrong password; return a lockout's end."""
    now = clock.now()
    keys = security.throttle_keys(user.username, actor.ip)
    audit.record("login_failed", actor, result="refused",
                 detail={"username": user.username, "reason": "second_factor"})
    _count_failure(keys, now, user.username, actor)
    db.session.commit()
    return security.locked_until(keys, now)


def locked(user: User, actor: Actor) -> datetime | None:
    """Return when a running lockout of this account or address ends, if one runs."""
    return security.locked_until(security.throttle_keys(user.username, actor.ip), clock.now())


def authenticate(username: str, password: str, actor: Actor) -> User | None:
    """Return the active user with this username and password, or None (audited, throttled)."""
    return check_sign_in(username, password, actor).user


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def signed_in(user: User, actor: Actor, second_factor: bool = False) -> str:
    """Record a sign-in, forget the account's failures; return the new session id."""
    sid = secrets.token_urlsafe(32)
    db.session.add(LoginSession(id=_digest(sid), user_id=user.id, started_at=clock.now(),
                                ip=actor.ip))
    security.forget_failures(security.throttle_keys(user.username, None)[0])
    audit.record("login_succeeded", Actor(user.id, user.username, actor.role, actor.ip,
                                          actor.user_agent),
                 detail={"second_factor": second_factor} if second_factor else None)
    db.session.commit()
    return sid


def signed_out(actor: Actor, sid: str | None = None) -> None:
    """Record a sign-out and end its session."""
    if sid:
        _end(_digest(sid), "signed_out")
    audit.record("logout_succeeded", actor)
    db.session.commit()


def session_user(sid: str, user_id: int) -> User | None:
    """Return the active user whose running session `sid` is, or None."""
    # One read on every page: the running session row, the user, their roles and classes.
    return db.session.scalars(
        select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.id == _digest(sid), LoginSession.ended_at.is_(None),
               User.id == user_id, User.active.is_(True))
        .options(joinedload(User.roles), joinedload(User.classes))).unique().first()


def session_expired(sid: str | None, user_id: int, reason: str, actor: Actor) -> None:
    """Record that a session ended by itself (idle, too old, ended elsewhere)."""
    if sid:
        _end(_digest(str(sid)), reason)
    user = db.session.get(User, user_id)
    who = Actor(user_id, user.username if user else "unknown", actor.role, actor.ip,
                actor.user_agent)
    audit.record("session_expired", who, detail={"reason": reason})
    db.session.commit()


def _end(digest: str, reason: str) -> None:
    db.session.execute(update(LoginSession).where(LoginSession.id == digest,
                                                  LoginSession.ended_at.is_(None))
                       .values(ended_at=clock.now(), ended_reason=reason))


def end_sessions(user_id: int, reason: str, keep: str | None = None) -> int:
    """End every running session of a user (but `keep`); return how many. No commit."""
    query = update(LoginSession).where(LoginSession.user_id == user_id,
                                       LoginSession.ended_at.is_(None))
    if keep:
        query = query.where(LoginSession.id != _digest(keep))
    result = db.session.execute(query.values(ended_at=clock.now(), ended_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


# -- passwords -------------------------------------------------------------------------------


@cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords (lower case)."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line and not line.startswith("#"))


# What a refused password is told, by code (views translate the codes; the CLI prints these).
PROBLEMS = {
    "too_short": f"Use at least {MIN_PASSWORD_LENGTH} characters.",
    "common": "This password is one of the most common ones: choose another.",
    "username": "The password must not contain the username.",
    "simple": "Use more different characters.",
    "wrong_current": "The current password is wrong.",
    "mismatch": "The two new passwords differ.",
}


def password_problems(password: str, username: str = "") -> list[str]:
    """Return what is wrong with a new password (codes of PROBLEMS), or nothing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return ["too_short"]
    lowered = password.lower()
    base = lowered.rstrip("0123456789!@#$%^&*.?_-")
    common = common_passwords()
    if lowered in common or (len(base) >= 4 and base in common):
        return ["common"]
    if username and username.lower() in lowered:
        return ["username"]
    if len(set(password)) < 4:
        return ["simple"]
    return []


def set_password(user: User, password: str, actor: Actor, keep_sid: str | None = None) -> None:
    """Set a new password (checked against the policy), end other sessions; audited."""
    problems = password_problems(password, user.username)
    if problems:
        raise ValidationFailed({"new_password": problems})
    user.password_hash = hash_password(password)
    ended = end_sessions(user.id, "password_changed", keep=keep_sid)
    audit.record("password_changed", actor, detail={"user": user.username,
                                                    "sessions_ended": ended})
    db.session.commit()


def change_password(user: User, current: str, new: str, repeat: str, actor: Actor,
                    keep_sid: str | None = None) -> None:
    """Change one's own password: the current one, then the new one twice."""
    errors: dict[str, list[str]] = {}
    if not check_password_hash(user.password_hash, current):
        errors["current_password"] = ["wrong_current"]
    problems = password_problems(new, user.username)
    if problems:
        errors["new_password"] = problems
    elif new != repeat:
        errors["repeat_password"] = ["mismatch"]
    if errors:
        audit.record("password_change_refused", actor, result="refused",
                     detail={"fields": sorted(errors)})
        db.session.commit()
        raise ValidationFailed(errors)
    set_password(user, new, actor, keep_sid=keep_sid)


# -- accounts (the `caseflow users` commands) ---------------------------------------------


def create_user(username: str, display_name: str, roles: list[str], actor: Actor, *,
                password: str | None, college_id: int | None = None,
                class_ids: tuple[int, ...] = ()) -> User:
    """Create an account (a service account for API tokens when `password` is None)."""
    from caseflow.models import CounselorClass, UserRole
    from caseflow.models.org import ROLES

    errors: dict[str, list[str]] = {}
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        errors["username"] = ["That username is taken."]
    if not set(roles) <= set(ROLES):
        errors["roles"] = [f"Roles are among: {', '.join(ROLES)}."]
    if password is not None and password_problems(password, username):
        errors["password"] = [PROBLEMS[c] for c in password_problems(password, username)]
    if errors:
        raise ValidationFailed(errors)
    user = User(username=username, display_name=display_name or username, active=True,
                password_hash=hash_password(password or secrets.token_urlsafe(48)),
                college_id=college_id, created_at=clock.now())
    user.roles = [UserRole(role=r) for r in sorted(set(roles))]
    db.session.add(user)
    db.session.flush()
    db.session.add_all([CounselorClass(user_id=user.id, class_id=c) for c in class_ids])
    audit.record("user_created", actor, detail={"user": username, "roles": sorted(set(roles)),
                                                "college": college_id,
                                                "classes": list(class_ids),
                                                "service_account": password is None})
    db.session.commit()
    return user


def set_roles(user: User, roles: list[str], actor: Actor) -> tuple[list[str], list[str]]:
    """Give a user exactly `roles` (audited as `role_changed`); return (before, after)."""
    from caseflow.models import UserRole
    from caseflow.models.org import ROLES, forget_scope

    if not set(roles) <= set(ROLES):
        raise ValidationFailed({"roles": [f"Roles are among: {', '.join(ROLES)}."]})
    before, after = sorted(user.role_names), sorted(set(roles))
    if before == after:
        return before, after
    user.roles = [r for r in user.roles if r.role in after]
    user.roles.extend(UserRole(role=r) for r in after if r not in before)
    forget_scope(user.id)
    audit.record("role_changed", actor, detail={"user": user.username, "before": before,
                                                "after": after})
    db.session.commit()
    return before, after


def set_active(user: User, active: bool, actor: Actor) -> None:
    """Deactivate (ending every session at once) or reactivate an account; audited."""
    if bool(user.active) == active:
        return
    user.active = active
    ended = 0 if active else end_sessions(user.id, "deactivated")
    audit.record("user_activated" if active else "user_deactivated", actor,
                 detail={"user": user.username, "sessions_ended": ended})
    db.session.commit()
