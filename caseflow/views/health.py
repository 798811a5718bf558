"""`GET /healthz`: whether this caseflow can do its work (for load balancers and monitors)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from caseflow.services import health

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> tuple[Response, int, dict[str, str]]:
    """Answer 200 when the database, its schema and the timers are fine, else 503."""
    result = health.check()
    return jsonify(result.as_dict()), 200 if result.ok else 503, {"Cache-Control": "no-store"}
