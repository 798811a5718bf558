"""The optional second factor: time-based one-time codes (TOTP, RFC 6238) with pyotp.

A person enrols by scanning the otpauth URI (or typing the secret) into an authenticator
app and confirming one code. An admin may require the factor for whole roles.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

import pyotp
from sqlalchemy import select

from caseflow import audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import TotpCredential, TotpRequiredRole, User
from caseflow.models.org import ROLES
from caseflow.services import ValidationFailed

STEP = 30  # seconds per code
WINDOW = 1  # codes accepted either side of now (clock drift)


def required_roles() -> set[str]:
    """Return the roles whose holders must use a second factor."""
    return set(db.session.scalars(select(TotpRequiredRole.role)))


def credential(user: User) -> TotpCredential | None:
    """Return the user's TOTP credential (confirmed or not), if any."""
    return db.session.get(TotpCredential, user.id)


def enrolled(user: User) -> bool:
    """Say whether the user has a confirmed second factor."""
    row = credential(user)
    return row is not None and row.confirmed_at is not None


def required(user: User) -> bool:
    """Say whether the user must give a code to sign in (enrolled, or their role asks)."""
    return enrolled(user) or bool(set(user.role_names) & required_roles())


def start_enrolment(user: User) -> TotpCredential:
    """Return the user's unconfirmed credential, making a new secret if needed."""
    row = credential(user)
    if row is not None and row.confirmed_at is not None:
        raise ValidationFailed({"code": ["A second factor is already set up."]})
    if row is None:
        row = TotpCredential(user_id=user.id, secret=pyotp.random_base32(),
                             created_at=clock.now())
        db.session.add(row)
        db.session.commit()
    return row


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    """Return the otpauth:// URI an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _counter(secret: str, code: str) -> int | None:
    """Return the time step a code belongs to (within the window), else None."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return None
    totp, now = pyotp.TOTP(secret), clock.now()
    for offset in range(-WINDOW, WINDOW + 1):
        moment = now + timedelta(seconds=offset * STEP)
        if hmac.compare_digest(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None


def _accept(row: TotpCredential, code: str) -> bool:
    counter = _counter(row.secret, code)
    if counter is None or (row.last_counter is not None and counter <= row.last_counter):
        return False  # wrong, or replayed
    row.last_counter = counter
    return True


def verify(user: User, code: str) -> bool:
    """Check a code of a confirmed credential (each code is accepted once); commit."""
    row = credential(user)
    if row is None or row.confirmed_at is None or not _accept(row, code):
        return False
    db.session.commit()
    return True


def confirm(user: User, code: str, actor: Actor) -> bool:
    """Confirm an enrolment with its first correct code (audited)."""
    row = credential(user)
    if row is None or row.confirmed_at is not None or not _accept(row, code):
        return False
    row.confirmed_at = clock.now()
    audit.record("totp_enrolled", actor, detail={"user": user.username})
    db.session.commit()
    return True


def reset(user: User, actor: Actor) -> bool:
    """Remove a user's second factor (an admin, when a phone is lost); audited."""
    row = credential(user)
    if row is None:
        return False
    db.session.delete(row)
    audit.record("totp_reset", actor, detail={"user": user.username})
    db.session.commit()
    return True


def require_for_role(role: str, required_: bool, actor: Actor) -> None:
    """Require (or stop requiring) a second factor for every holder of `role`; audited."""
    if role not in ROLES:
        raise ValidationFailed({"role": [f"Unknown role {role}."]})
    row = db.session.get(TotpRequiredRole, role)
    if required_ and row is None:
        db.session.add(TotpRequiredRole(role=role, set_by=actor.user_id, set_at=clock.now()))
    elif not required_ and row is not None:
        db.session.delete(row)
    else:
        return
    audit.record("totp_requirement_changed", actor,
                 detail={"role": role, "required": required_})
    db.session.commit()
