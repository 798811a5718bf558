"""API tokens for machine clients (the police warning system, a reporting tool).

An admin issues a token to an account (usually a service account made for the system),
limited to some of that account's roles; only the token's SHA-256 is stored, the token
itself is shown once. `authenticate` turns an `Authorization: Bearer …` header into a
principal that `access` treats like a user holding the token's roles; every use and
every refusal is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask import has_request_context, request
from sqlalchemy import select

from caseflow import audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import ApiToken, User
from caseflow.services import NotFound, ValidationFailed

PREFIX = "cf_"


class TokenPrincipal:
    """A user seen through a token: the same scope, only the token's roles."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User, token: ApiToken) -> None:
        self.user, self.token = user, token
        held = set(user.role_names)
        self.role_names = tuple(r for r in token.roles.split(",") if r in held)

    def __getattr__(self, name: str) -> Any:  # id, username, college_id, class_ids, …
        return getattr(self.user, name)

    def has_role(self, *names: str) -> bool:
        """Say whether the token carries any of `names`."""
        return any(r in names for r in self.role_names)

    def get_id(self) -> str:
        """Return the user's id (as Flask-Login would)."""
        return str(self.user.id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(user_id: int, name: str, roles: Iterable[str], actor: Actor,
          valid_for: timedelta | None = None) -> tuple[ApiToken, str]:
    """Issue a token for an account, limited to `roles`; return the row and the token.

    The token is shown once: only its hash is kept.
    """
    user = db.session.get(User, user_id)
    wanted = sorted(set(roles))
    errors: dict[str, list[str]] = {}
    if user is None or not user.active:
        errors["user"] = ["No such active account."]
    elif not wanted or not set(wanted) <= set(user.role_names) or "admin" in wanted:
        errors["roles"] = ["Choose roles the account holds (never admin)."]
    if not name.strip():
        errors["name"] = ["Name the system the token is for."]
    if errors:
        raise ValidationFailed(errors)
    token = PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    row = ApiToken(name=name.strip()[:100], token_hash=_digest(token), prefix=token[:11],
                   user_id=user_id, roles=",".join(wanted), created_by=actor.user_id,
                   created_at=now, expires_at=now + valid_for if valid_for else None)
    db.session.add(row)
    db.session.flush()
    audit.record("api_token_issued", actor, detail={"token": row.id, "name": row.name,
                                                    "prefix": row.prefix, "roles": wanted,
                                                    "user": user_id})
    db.session.commit()
    return row, token


def revoke(token_id: int, actor: Actor) -> ApiToken:
    """Revoke a token at once (audited); it answers 401 from then on."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = clock.now(), actor.user_id
        audit.record("api_token_revoked", actor, detail={"token": row.id, "name": row.name,
                                                         "prefix": row.prefix})
        db.session.commit()
    return row


def tokens() -> list[ApiToken]:
    """Return every token, newest first (hashes only)."""
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def _request_actor(user: User | TokenPrincipal | None, label: str) -> Actor:
    web = has_request_context()
    held = user.role_names if user is not None else ()
    return Actor(user.id if user else None, label, held[0] if held else None,
                 request.remote_addr if web else None,
                 request.headers.get("User-Agent") if web else None)


def _where() -> dict[str, str]:
    return {"method": request.method, "path": request.path} if has_request_context() else {}


def authenticate(header: str | None) -> TokenPrincipal | None:
    """Return the principal of an `Authorization: Bearer <token>` header, else None.

    Every use is audited (`api_token_used`), and so is every refused token.
    """
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(value)))
    now = clock.now()
    user = db.session.get(User, row.user_id) if row is not None else None
    usable = (row is not None and row.revoked_at is None and user is not None and user.active
              and (row.expires_at is None or row.expires_at > now))
    if not usable:
        why = "unknown" if row is None else "revoked or expired"
        audit.record("api_token_refused", _request_actor(None, "api"), result="refused",
                     detail={"prefix": value[:11], "reason": why, **_where()})
        db.session.commit()
        return None
    assert row is not None and user is not None
    principal = TokenPrincipal(user, row)
    row.last_used_at = now
    audit.record("api_token_used", _request_actor(principal, f"{user.username} ({row.prefix}…)"),
                 detail={"token": row.id, "name": row.name, **_where()})
    db.session.commit()
    return principal
