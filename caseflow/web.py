"""Wire the web layer: login, CSRF, i18n, blueprints, error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from caseflow import timefmt
from caseflow.db import db
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
    login_manager.login_message = None
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from caseflow.views import auth, main, tasks

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(tasks.bp)
    app.jinja_env.filters["localtime"] = timefmt.short
    app.context_processor(_template_globals)
    for code in (400, 403, 404, 409, 500):
        app.register_error_handler(code, _error_page)

    @app.after_request
    def _remember_lang(response: Any) -> Any:
        lang = request.args.get("lang")
        if lang in ("en", "zh_CN"):
            response.set_cookie("lang", lang, samesite="Lax", httponly=True)
        return response


def _template_globals() -> dict[str, Any]:
    return {"school_name": g.get("school_name") or _school_name(), "locale": select_locale()}


def _school_name() -> str:
    from flask import current_app

    return str(current_app.config.get("SCHOOL_NAME", "caseflow"))


def _error_page(error: Any) -> Any:
    code = getattr(error, "code", 500) or 500
    return render_template("error.html", code=code, error=error), code
