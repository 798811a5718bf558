"""The administrator's list of process failures: which model element failed, when, and why.

Each entry is a `process_failed` audit event (caseflow.services.faults). The page shows the
model's side only (the element, the error's type, the failing expression or script line,
what was being done): the error's own message may quote a case's data, which the
administrator does not see (SPEC, separation of duties); it stays in the audit trail.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from caseflow import access
from caseflow.services import faults
from caseflow.views import page_arg, page_size, pages

bp = Blueprint("admin_faults", __name__, url_prefix="/admin/faults")


@bp.before_request
def _admins_only() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not access.may_administer(current_user):
        abort(404)
    return None


@bp.get("")
def index() -> str:
    """List the recorded process failures, newest first, and the timers they hold up."""
    page, size = page_arg(), page_size()
    failures, total = faults.recent(size, (page - 1) * size)
    return render_template("admin/faults.html", failures=failures, total=total, page=page,
                           pages=pages(total), held=faults.held_timers())
