"""Say which database caseflow is using, without its password."""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy.engine import make_url


def describe_url(url: str | None = None) -> str:
    """Return the database URL with the password hidden (a SQLite path stays readable)."""
    if url is None:
        url = current_app.config["SQLALCHEMY_DATABASE_URI"] if has_app_context() else "?"
    try:
        parsed = make_url(url)
    except Exception:
        return url
    if parsed.drivername.startswith("sqlite"):
        return f"(SQLite file {parsed.database})"
    return parsed.render_as_string(hide_password=True)
