"""`GET /healthz` and `GET /readyz`: whether caseflow, and this app process, can do its work."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from caseflow.services import health

bp = Blueprint("health", __name__)

NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/healthz")
def healthz() -> tuple[Response, int, dict[str, str]]:
    """Answer 200 when the database, its schema and the timers are fine, else 503 (monitors)."""
    result = health.check()
    return jsonify(result.as_dict()), 200 if result.ok else 503, NO_STORE


@bp.route("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]]:
    """Answer 200 when this process can serve pages (database and schema), else 503."""
    result = health.check(ready_only=True)
    return jsonify(result.readiness_dict()), 200 if result.ok else 503, NO_STORE
