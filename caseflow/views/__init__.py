"""Thin blueprints: parse the request, call a service, render the answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, g, request, url_for
from flask_login import current_user

from caseflow.audit import Actor


def actor(role: str | None = None) -> Actor:
    """Describe the signed-in user and where the request came from, for the audit trail."""
    user = current_user
    roles = getattr(user, "role_names", ()) if user.is_authenticated else ()
    return Actor(
        user_id=user.id if user.is_authenticated else None,
        name=user.username if user.is_authenticated else "anonymous",
        role=role or (roles[0] if roles else None),
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )


def lang() -> str:
    """Return the language of this request (zh_CN or en)."""
    from caseflow.web import select_locale

    return select_locale()


def int_arg(name: str, source: Any = None) -> int | None:
    """Return a positive whole number from the query string (or `source`), else None."""
    text = str((source if source is not None else request.args).get(name, "")).strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


def text_arg(name: str, allowed: tuple[str, ...] | None = None, limit: int = 100) -> str | None:
    """Return a query-string text (one of `allowed`, when given), else None."""
    text = request.args.get(name, "").strip()[:limit]
    if not text or (allowed is not None and text not in allowed):
        return None
    return text


def date_arg(name: str) -> date | None:
    """Return a date (YYYY-MM-DD) from the query string, else None."""
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def page_arg() -> int:
    """Return the page number asked for (1 when absent or bad)."""
    return int_arg("page") or 1


def page_size() -> int:
    """Return how many rows a list page shows."""
    return int(current_app.config["PAGE_SIZE"])


def pages(total: int) -> int:
    """Return the number of pages `total` rows fill (at least one)."""
    size = page_size()
    return max((total + size - 1) // size, 1)


def safe_next(default: str) -> str:
    """Return the `next` target of a form if it stays on this site, else `default`."""
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def page_url(number: int) -> str:
    """Return the current URL with another page number (filters kept)."""
    args = {**(request.view_args or {}), **request.args.to_dict(), "page": number}
    return url_for(str(request.endpoint), **args)


def lang_url(code: str) -> str:
    """Return the current URL in another language (filters kept)."""
    if request.endpoint is None:
        return url_for("main.home", lang=code)
    args = {**(request.view_args or {}), **request.args.to_dict(), "lang": code}
    return url_for(request.endpoint, **args)


def fast_gettext(msgid: str) -> str:
    """Translate a plain message (no placeholders) with this request's catalogue, cheaply.

    For loops over hundreds of rows, where flask_babel.gettext's per-call lookups add up.
    """
    catalogue = g.get("_catalogue")
    if catalogue is None:
        from flask_babel import get_translations

        catalogue = g._catalogue = get_translations()
    return str(catalogue.ugettext(msgid))
