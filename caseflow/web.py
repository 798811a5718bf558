"""Wire the web layer: login, CSRF, i18n, blueprints, template helpers, error pages."""

from __future__ import annotations

import gc
import json
from datetime import date
from typing import Any

from flask import Flask, g, render_template, request
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from caseflow import clock, masking, timefmt
from caseflow.db import db
from caseflow.engine import ProcessFault
from caseflow.models import User

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def select_locale() -> str:
    """Use ?lang=, then the lang cookie, then Simplified Chinese."""
    wanted = request.args.get("lang") or request.cookies.get("lang")
    return "en" if wanted == "en" else "zh_CN"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def init_app(app: Flask) -> None:
    """Register extensions, blueprints, template helpers and error pages."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from caseflow import translating

    translating.init_app(app)  # one catalogue lookup per request, not per string
    from caseflow import security

    security.init_app(app)  # cookies, headers, session timeouts, the route gate, 413
    for blueprint in discover_blueprints():
        app.register_blueprint(blueprint)
    from caseflow import api

    api.init_app(app)  # the JSON API and its OpenAPI document, /api/v1
    _register_filters(app)
    app.context_processor(_template_globals)
    for code in (400, 403, 404, 405, 409, 500):
        app.register_error_handler(code, _error_page)
    register_database_errors(app)
    app.register_error_handler(ProcessFault, _process_fault_page)

    @app.after_request
    def _remember_lang(response: Any) -> Any:
        lang = request.args.get("lang")
        if lang in ("en", "zh_CN"):
            response.set_cookie("lang", lang, samesite="Lax", httponly=True)
        return response

    if not app.testing:
        _freeze_startup_objects()


def _freeze_startup_objects() -> None:
    """Keep the objects made at start-up out of every later garbage collection.

    The imported libraries leave ~100,000 long-lived objects; without this a full
    collection walks them all and stalls a request for tens of milliseconds.
    """
    gc.collect()
    gc.freeze()


def discover_blueprints() -> list[Any]:
    """Return the `bp` of every module in caseflow/views, in module-name order.

    A new screen is a module with a blueprint named `bp`; nothing else needs editing.
    """
    import importlib
    import pkgutil

    from caseflow import views

    found = []
    for info in sorted(pkgutil.iter_modules(views.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"caseflow.views.{info.name}")
        blueprint = getattr(module, "bp", None)
        if blueprint is not None:
            found.append(blueprint)
    return found


def _register_filters(app: Flask) -> None:
    from caseflow.views.present import money

    app.jinja_env.filters["fromjson"] = _from_json
    app.jinja_env.filters["localtime"] = timefmt.short
    app.jinja_env.filters["mask_phone"] = masking.phone
    app.jinja_env.filters["mask_id"] = masking.id_card
    app.jinja_env.filters["money"] = lambda value: money(value, select_locale())
    from caseflow.views import labels, lang_url, page_url

    app.jinja_env.globals.update(
        page_url=page_url, lang_url=lang_url, lookup_label=_lookup_label, today=_today,
        now_utc=clock.now, **labels.template_globals())


def _from_json(text: str | None) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        return None


def _lookup_label(kind: str, code: str | None) -> str:
    """Return the label of an editable-list code in the user's language."""
    from caseflow.views.present import lookups

    return dict(lookups(select_locale()).get(kind, [])).get(code or "", code or "")


def _today() -> date:
    return timefmt.local(clock.now()).date()


def _template_globals() -> dict[str, Any]:
    return {"school_name": g.get("school_name") or _school_name(), "locale": select_locale(),
            "nav_counts": _nav_counts, "nav_links": _nav_links,
            "open_warnings": _open_warnings}


def _nav_links() -> dict[str, bool]:
    """Return which optional navigation links the signed-in user gets."""
    from caseflow import access

    if not current_user.is_authenticated:
        return {}
    from caseflow.services import reports, screening_progress

    return {"cases": access.may_list_cases(current_user),
            "screening": screening_progress.may_list(current_user),
            "register": access.may_register(current_user),
            "reports": reports.may_view(current_user),
            "settings": access.may_manage_settings(current_user),
            "faults": access.may_administer(current_user),
            "warnings": access.may_see_warnings(current_user)}


def _open_warnings() -> int:
    """Return how many police warnings wait for a student (for the nav badge), once a request."""
    if "open_warnings" not in g:
        from caseflow.services.warninglist import open_count

        g.open_warnings = open_count(current_user) if current_user.is_authenticated else 0
    return int(g.open_warnings)


def _nav_counts() -> tuple[int, int]:
    """Return (open tasks, unread notifications) of the signed-in user, once a request."""
    if "nav_counts" not in g:
        from caseflow.services.inbox import counts

        g.nav_counts = (counts(current_user, g.get("open_task_total"))
                        if current_user.is_authenticated else (0, 0))
    return g.nav_counts


def know_open_tasks(total: int) -> None:
    """Tell the navigation how many open tasks the signed-in user has (counted already)."""
    g.open_task_total = total


def _school_name() -> str:
    from flask import current_app

    return str(current_app.config.get("SCHOOL_NAME", "caseflow"))


def register_database_errors(app: Flask) -> None:
    """Answer a database that is unreachable or refuses a write, or a pool with no free
    connection in time, with a "try again" page."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as NoFreeConnection

    app.register_error_handler(DBAPIError, _database_error_page)
    app.register_error_handler(NoFreeConnection, _database_error_page)


def _database_error_page(error: Any) -> Any:
    import logging

    from caseflow.api import errors as api_errors

    if api_errors.is_api_request():
        return api_errors.unexpected(error)

    logging.getLogger(__name__).warning("database error on %s %s: %s", request.method,
                                        request.path, getattr(error, "orig", error))
    try:
        db.session.rollback()  # nothing of the failed unit of work stays
    except Exception:  # the connection may be gone: drop the session, the pool reconnects
        db.session.remove()
    # Flask-Login's template context loads the signed-in user: from the database. Don't.
    g._login_user = login_manager.anonymous_user()
    retry = request.full_path.rstrip("?") if request.method == "GET" else request.path
    page = render_template("error_db.html", retry_url=retry, at=timefmt.short(clock.now()))
    return page, 503, {"Retry-After": "5"}


def _process_fault_page(error: ProcessFault) -> Any:
    """Roll back and record a step the process model could not take; say so plainly."""
    from caseflow.api import errors as api_errors
    from caseflow.services import faults
    from caseflow.views import actor

    if api_errors.is_api_request():
        return api_errors.unexpected(error)
    failed = faults.failed(error, actor(), doing=f"{request.method} {request.path}")
    return render_template("error.html", code=500, error=failed, fault=failed), 500


def _error_page(error: Any) -> Any:
    from caseflow.api import errors as api_errors

    if api_errors.is_api_request():  # no route matched (404, 405) under /api/
        return api_errors.unexpected(error)
    code = getattr(error, "code", 500) or 500
    if code >= 500:
        db.session.rollback()
    return render_template("error.html", code=code, error=error), code
