"""Security state: signed-in sessions, sign-in throttling, TOTP second factors, API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.db import db
from caseflow.models.base import UTCDateTime, utcnow


class LoginSession(db.Model):
    """One signed-in browser session; the cookie holds its random id, this row its hash.

    Signing out, a timeout or deactivating the account ends the row, so a copied cookie
    stops working at once.
    """

    __tablename__ = "login_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the session id
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(db.Model):
    """Failed sign-ins of one account name or one address, and its current lockout."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # account:… / address:…
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TotpCredential(db.Model):
    """A person's TOTP secret; usable once confirmed with a first correct code."""

    __tablename__ = "totp_credential"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_counter: Mapped[int | None] = mapped_column(BigInteger)  # refuses a replayed code


class TotpRequiredRole(db.Model):
    """A role whose holders must sign in with a TOTP second factor (set by an admin)."""

    __tablename__ = "totp_required_role"
    role: Mapped[str] = mapped_column(String(30), primary_key=True)
    set_by: Mapped[int | None] = mapped_column(Integer)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(db.Model):
    """A bearer token issued to a machine client; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists and the audit trail
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    roles: Mapped[str] = mapped_column(String(300))  # comma-separated, a subset of the user's
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(Integer)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
