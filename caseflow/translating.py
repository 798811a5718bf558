"""Template gettext that looks the request's translations up once, not once per string.

Flask-Babel's template callables find the translations through `g` and the babel
context on every `{{ _("…") }}`; an inbox page makes hundreds of such calls, and the
lookups cost more than the rest of the rendering. This keeps the request's catalogue
in a context variable (set before each request, cleared after) and falls back to
Flask-Babel whenever `force_locale` is active or no request is being served.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import flask_babel
from flask import Flask, g

_CURRENT: ContextVar[tuple[Any, Any] | None] = ContextVar("caseflow_translations", default=None)


def _catalogue() -> Any:
    cached = _CURRENT.get()
    if cached is not None and not hasattr(cached[0], "forced_babel_locale"):
        return cached[1]
    return flask_babel.get_translations()


def gettext(string: str) -> str:
    """Translate `string` in the request's language."""
    return _catalogue().ugettext(string)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form."""
    return _catalogue().ungettext(singular, plural, n)


def _remember() -> None:
    translations = flask_babel.get_translations()
    _CURRENT.set((g._flask_babel, translations))


def _forget(_exc: BaseException | None = None) -> None:
    _CURRENT.set(None)


def init_app(app: Flask) -> None:
    """Install the callables in the app's Jinja environment (after Babel's init_app)."""
    app.jinja_env.install_gettext_callables(gettext=gettext, ngettext=ngettext, newstyle=True)
    app.before_request(_remember)
    app.teardown_request(_forget)
