"""Web security: headers, session lifetimes, the route gate, sign-in throttling, log masking.

`init_app` wires it into Flask; the throttle functions are called by services.auth, which
commits. Nothing here renders case data.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy import event, select
from werkzeug.middleware.proxy_fix import ProxyFix

from caseflow import clock, masking
from caseflow.db import db
from caseflow.models import LoginThrottle, TaskDraft, TaskRow

log = logging.getLogger(__name__)

SID = "cf_sid"  # the random session id (its hash is the login_session row)
STARTED = "cf_started"  # epoch seconds of the sign-in
SEEN = "cf_seen"  # epoch seconds of the last request (rewritten at most once a minute)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
THROTTLE_DEFAULTS = {
    "LOGIN_ACCOUNT_FAILURES": 5,  # failures of one account name before a lockout
    "LOGIN_ADDRESS_FAILURES": 20,  # of one address (a campus NAT hides many people)
    "LOGIN_LOCK_SECONDS": 60,  # the first lockout; each next one doubles
    "LOGIN_LOCK_MAX_SECONDS": 24 * 3600,
    "LOGIN_FORGET_AFTER_SECONDS": 24 * 3600,  # a quiet day forgets earlier lockouts
}


def init_app(app: Flask) -> None:
    """Register cookies, headers, the session check, the route gate and the 413 page."""
    for key, value in THROTTLE_DEFAULTS.items():
        app.config.setdefault(key, value)
    # Tests travel hours in simulated time with a signed-in client; the security tests
    # switch the timeouts on (SESSION_TIMEOUTS=True) to test them.
    app.config.setdefault("SESSION_TIMEOUTS", not app.testing)
    _cookies(app)
    app.session_interface = _SessionInterface()
    app.before_request(check_session)
    app.before_request(gate)
    app.after_request(add_headers)
    app.register_error_handler(413, _too_large)
    install_log_masking()


def _cookies(app: Flask) -> None:
    """Set cookie flags; trust proxy headers only when told how many proxies there are."""
    https = os.environ.get("CASEFLOW_HTTPS") == "1" or app.config.get("HTTPS")
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax")
    if https:
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True,
                          PREFERRED_URL_SCHEME="https")
    hops = int(os.environ.get("CASEFLOW_PROXY_HOPS") or app.config.get("PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops,  # type: ignore
                                x_host=hops)


class _SessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def add_headers(response: Any) -> Any:
    """Add the security headers; keep what signed-in people see out of caches."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    from caseflow import access

    public = request.endpoint is None or access.route_rule(request.endpoint) == access.PUBLIC
    # the session or the API token says who is signed in (asking current_user would reload
    # the user after the page's commits expired it)
    if not public and ("_user_id" in session or "api_principal" in g):
        response.headers["Cache-Control"] = "no-store"
    return response


def _too_large(error: Any) -> Any:
    from caseflow.api import errors as api_errors

    if api_errors.is_api_request():
        return api_errors.http_error(error)
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    return render_template("error_413.html", code=413,
                           limit_mb=round(limit / 1024 / 1024, 1)), 413


# -- the route gate: deny by default ----------------------------------------------------


def gate() -> Any:
    """Refuse a request to an endpoint without an access rule, or below its rule."""
    from caseflow import access

    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route matched: Flask answers 404 or 405
    rule = access.route_rule(endpoint)
    if rule is None and current_app.testing and "." not in endpoint:
        return None  # a route a test adds to the app itself (never a caseflow blueprint)
    if rule is None:
        log.error("endpoint %s has no access rule: add it to caseflow/access/routes.py", endpoint)
        abort(404)
    if rule in (access.PUBLIC, access.TOKEN):
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if rule == access.ADMIN and not access.may_administer(current_user):
        _refused(endpoint)
    return None


def _refused(endpoint: str) -> None:
    from caseflow.access import refuse
    from caseflow.views import actor

    refuse("route", 0, actor(), detail={"endpoint": endpoint})
    abort(404)


# -- session lifetimes -------------------------------------------------------------------


def _limits() -> tuple[float, float]:
    """Return (idle, absolute) session timeouts in seconds, from the school settings."""
    from caseflow import settings

    idle = settings.duration_timedelta(settings.get("session_idle_timeout"))
    absolute = settings.duration_timedelta(settings.get("session_absolute_timeout"))
    return idle.total_seconds(), absolute.total_seconds()


def start_session(sid: str) -> None:
    """Put a fresh session id and its start time into the (already cleared) session."""
    now = clock.now().timestamp()
    session[SID] = sid
    session[STARTED] = now
    session[SEEN] = now


def check_session() -> Any:
    """End a signed-in session that is idle, too old, signed out or of a deactivated user."""
    # a 404 runs the check too: its page shows the signed-in person's name and badges
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    now = clock.now().timestamp()
    reason = _expired_reason(now)
    if reason is None:
        if now - float(session.get(SEEN, 0)) >= 60:
            session[SEEN] = now
        return None
    from caseflow.services import auth as auth_service
    from caseflow.views import actor

    auth_service.session_expired(session.get(SID), int(session["_user_id"]), reason,
                                 actor())
    logout_user()
    session.clear()
    flash(_("You were signed out because the page was left unused too long, or the sign-in "
            "was too old. Sign in again; nothing you had saved is lost.")
          if reason in ("idle", "absolute") else _("Your sign-in has ended. Sign in again."))
    target = (request.full_path if request.method == "GET"
              and not str(request.endpoint).startswith("auth.") else None)
    return redirect(url_for("auth.login", next=target))


def _expired_reason(now: float) -> str | None:
    from caseflow.services import auth as auth_service

    sid = session.get(SID)
    if not sid:
        return "invalid"
    idle, absolute = _limits() if current_app.config["SESSION_TIMEOUTS"] else (math.inf,) * 2
    if now - float(session.get(STARTED, 0)) > absolute:
        return "absolute"
    if now - float(session.get(SEEN, 0)) > idle:
        return "idle"
    user = auth_service.session_user(str(sid), int(session["_user_id"]))
    if user is None:
        return "ended"
    # The session's identity map holds objects weakly: keeping this one lets Flask-Login's
    # user loader find it there instead of reading the same row again.
    g.session_user = user
    return None


# -- sign-in throttling ------------------------------------------------------------------


def throttle_keys(username: str, address: str | None) -> list[str]:
    """Return the throttle keys of a sign-in: the account name and the address."""
    keys = [f"account:{username.strip().lower()[:100]}"]
    if address:
        keys.append(f"address:{address[:64]}")
    return keys


def _limit_for(key: str) -> int:
    name = "LOGIN_ADDRESS_FAILURES" if key.startswith("address:") else "LOGIN_ACCOUNT_FAILURES"
    return int(current_app.config[name])


def locked_until(keys: list[str], now: datetime) -> datetime | None:
    """Return when the latest lockout of these keys ends, if one is running."""
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    ends = [r.locked_until for r in rows if r.locked_until and r.locked_until > now]
    return max(ends) if ends else None


def note_failure(keys: list[str], now: datetime) -> list[tuple[str, datetime, int]]:
    """Count a failed sign-in; return the lockouts it starts as (key, until, lockout no.)."""
    config = current_app.config
    started = []
    for key in keys:
        row = db.session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, lockouts=0)
            db.session.add(row)
        quiet = timedelta(seconds=int(config["LOGIN_FORGET_AFTER_SECONDS"]))
        if row.last_failure_at and now - row.last_failure_at > quiet:
            row.failures, row.lockouts = 0, 0
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= _limit_for(key):
            row.lockouts += 1
            row.failures = 0
            seconds = min(int(config["LOGIN_LOCK_SECONDS"]) * 2 ** (row.lockouts - 1),
                          int(config["LOGIN_LOCK_MAX_SECONDS"]))
            row.locked_until = now + timedelta(seconds=seconds)
            started.append((key, row.locked_until, row.lockouts))
    return started


def forget_failures(key: str) -> None:
    """Clear the failures and lockouts of one key (after a correct sign-in)."""
    row = db.session.get(LoginThrottle, key)
    if row is not None:
        row.failures, row.lockouts, row.locked_until = 0, 0, None


# -- identifying numbers never reach a log line --------------------------------------------

_ID_CARD = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])")


def mask_text(text: str) -> str:
    """Mask ID-card, mobile-phone and bank-card numbers inside free text."""
    text = _ID_CARD.sub(lambda m: masking.id_card(m.group(0)), text)
    text = _PHONE.sub(lambda m: masking.phone(m.group(0)), text)
    return _ACCOUNT.sub(lambda m: masking.account(m.group(0)), text)


_factory_installed = False


def install_log_masking() -> None:
    """Mask identifying numbers in every log record made from now on (once per process)."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for the handler to report
            return record
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


# -- drafts never keep confidential fields ---------------------------------------------


@event.listens_for(TaskDraft, "before_insert")
@event.listens_for(TaskDraft, "before_update")
def _strip_confidential(mapper: Any, connection: Any, draft: TaskDraft) -> None:
    """Drop the fields a form marks confidential from a draft before it is written."""
    import workflows

    row = connection.execute(select(TaskRow.process_id, TaskRow.task_spec)
                             .where(TaskRow.id == draft.task_id)).first()
    if row is None:
        return
    try:
        schema_cls = workflows.form(row.process_id, row.task_spec)
    except workflows.UnknownProcess:
        return
    secret = [n for n, f in (schema_cls().fields.items() if schema_cls else ())
              if f.metadata.get("confidential")]
    if not secret:
        return
    values = json.loads(draft.data or "{}")
    kept = {k: v for k, v in values.items() if k not in secret}
    if kept != values:
        draft.data = json.dumps(kept, ensure_ascii=False, sort_keys=True, default=str)
