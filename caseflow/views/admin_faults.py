"""The administrator's list of process failures: which model element failed, when, and why.

Each entry is a `process_failed` audit event (caseflow.services.faults). The page shows the
model's side only (the element, the error's type, the failing expression or script line,
what was being done): the error's own message may quote a case's data, which the
administrator does not see (SPEC, separation of duties); it stays in the audit trail.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from caseflow.services import faults, migration
from caseflow.views import page_arg, page_size, pages

# administrators only: the route gate's ADMIN rule (caseflow/access/routes.py)
bp = Blueprint("admin_faults", __name__, url_prefix="/admin/faults")


@bp.get("")
def index() -> str:
    """List the recorded process failures, newest first, the timers they hold up, and
    the processes with running instances on an older version (counts only)."""
    page, size = page_arg(), page_size()
    failures, total = faults.recent(size, (page - 1) * size)
    return render_template("admin/faults.html", failures=failures, total=total, page=page,
                           pages=pages(total), held=faults.held_timers(),
                           behind=migration.behind(migration.versions()))
