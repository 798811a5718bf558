"""Sign in (password, then a one-time code when required), sign out, one's own account."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from caseflow import clock, security
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import User
from caseflow.services import ValidationFailed
from caseflow.services import auth as auth_service
from caseflow.services import totp as totp_service
from caseflow.views import actor

bp = Blueprint("auth", __name__)
Answer = str | Response | tuple[str, int]
PENDING = "cf_pending"  # a password checked, the second factor still to come
PENDING_SECONDS = 300


def _problems() -> dict[str, str]:
    return {
        "too_short": _("Use at least %(n)s characters.", n=auth_service.MIN_PASSWORD_LENGTH),
        "common": _("This password is one of the most common ones: choose another."),
        "username": _("The password must not contain the username."),
        "simple": _("Use more different characters."),
        "wrong_current": _("The current password is wrong."),
        "mismatch": _("The two new passwords differ."),
    }


def _locked_message(until: datetime) -> str:
    minutes = max(1, math.ceil((until - clock.now()).total_seconds() / 60))
    return _("Too many failed sign-ins. Wait %(minutes)s minutes, then try again; if you "
             "have forgotten your password, ask the information centre.", minutes=minutes)


def _target() -> str:
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("main.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Answer:
    """Show the sign-in form; check the password (throttled), then ask for a code if needed."""
    error, locked = None, False
    username = request.form.get("username", "")
    if request.method == "POST":
        attempt = auth_service.check_sign_in(username, request.form.get("password", ""),
                                             actor())
        if attempt.user is not None:
            return _after_password(attempt.user)
        if attempt.locked_until is not None:
            error, locked = _locked_message(attempt.locked_until), True
        else:
            error = _("Wrong username or password.")
    return render_template("login.html", error=error, locked=locked, username=username), (
        429 if locked else 200)


def _after_password(user: User) -> Response:
    target = _target()
    if not totp_service.required(user):
        return _complete(user, target)
    session.clear()
    session[PENDING] = {"uid": user.id, "at": clock.now().timestamp(), "next": target}
    endpoint = "auth.second_factor" if totp_service.enrolled(user) else "auth.enrol_pending"
    return redirect(url_for(endpoint))


def _complete(user: User, target: str, second_factor: bool = False) -> Response:
    """Sign the user in on a fresh session (a new session id)."""
    session.clear()
    sid = auth_service.signed_in(user, actor(), second_factor=second_factor)
    login_user(user)
    security.start_session(sid)
    return redirect(target)


def _pending() -> tuple[User | None, str]:
    """Return the user whose password was checked a moment ago, and where they go next."""
    data = session.get(PENDING) or {}
    if not data or clock.now().timestamp() - float(data.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None, url_for("main.home")
    user = db.session.get(User, int(data["uid"]))
    return (user if user is not None and user.active else None), str(data.get("next"))


def _as(user: User) -> Actor:
    base = actor()
    return Actor(user.id, user.username, user.role_names[0] if user.role_names else None,
                 base.ip, base.user_agent)


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor() -> Answer:
    """Ask for the six-digit code of the authenticator app (throttled like passwords)."""
    user, target = _pending()
    if user is None:
        flash(_("Sign in again: the code must follow the password within five minutes."))
        return redirect(url_for("auth.login"))
    if not totp_service.enrolled(user):
        return redirect(url_for("auth.enrol_pending"))
    error, status = None, 200
    if request.method == "POST":
        until = auth_service.locked(user, _as(user))
        if until is None and totp_service.verify(user, request.form.get("code", "")):
            return _complete(user, target, second_factor=True)
        if until is None:
            until = auth_service.second_factor_failed(user, _as(user))
        error, status = (_locked_message(until), 429) if until else (
            _("That code is not right, or was already used. Type the code shown now."), 200)
    return render_template("auth/second_factor.html", error=error), status


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol_pending() -> Answer:
    """Set up the second factor that the user's role requires, then finish signing in."""
    user, target = _pending()
    if user is None:
        return redirect(url_for("auth.login"))
    if totp_service.enrolled(user):
        return redirect(url_for("auth.second_factor"))
    return _enrol(user, lambda: _complete(user, target, second_factor=True), required=True)


@bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required
def totp_setup() -> Answer:
    """Show one's second factor, or set one up."""
    if totp_service.enrolled(current_user):
        return render_template("auth/totp_enrol.html", enrolled=True, required=False)

    def done() -> Response:
        flash(_("The second factor is set up: from now on you sign in with a code too."))
        return redirect(url_for("main.home"))

    return _enrol(current_user, done, required=False)


def _enrol(user: User, done: Any, required: bool) -> Answer:
    row = totp_service.start_enrolment(user)
    error, status = None, 200
    if request.method == "POST":
        until = auth_service.locked(user, _as(user))
        if until is None and totp_service.confirm(user, request.form.get("code", ""), _as(user)):
            return done()
        if until is None:
            until = auth_service.second_factor_failed(user, _as(user))
        error, status = (_locked_message(until), 429) if until else (
            _("That code is not right. Check the phone's time and type the code shown now."),
            422)
    issuer = str(current_app.config.get("SCHOOL_NAME", "caseflow"))
    uri = totp_service.provisioning_uri(user, row.secret, issuer)
    secret = " ".join(row.secret[i:i + 4] for i in range(0, len(row.secret), 4))
    return render_template("auth/totp_enrol.html", enrolled=False, required=required,
                           secret=secret, uri=uri, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Sign out."""
    auth_service.signed_out(actor(), session.get(security.SID))
    logout_user()
    session.clear()
    flash(_("You have signed out. Close the browser on a shared computer."))
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Answer:
    """Change one's own password (at least 10 characters, not a common one)."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = request.form
        try:
            auth_service.change_password(current_user, form.get("current_password", ""),
                                         form.get("new_password", ""),
                                         form.get("repeat_password", ""), actor(),
                                         keep_sid=session.get(security.SID))
        except ValidationFailed as exc:
            words = _problems()
            errors = {k: [words.get(code, code) for code in v] for k, v in exc.errors.items()}
        else:
            flash(_("Your password was changed. Your other sign-ins were ended."))
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", errors=errors,
                           min_length=auth_service.MIN_PASSWORD_LENGTH), (422 if errors else 200)
