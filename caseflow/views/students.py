"""The student page (重点人员档案)."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from caseflow.services import NotFound
from caseflow.services import students as student_service
from caseflow.views import actor

bp = Blueprint("students", __name__)


@bp.route("/students/<int:student_id>")
@login_required
def student_page(student_id: int) -> str:
    """Show one student's cases, warnings, screenings, vetoes and notices (scoped, audited)."""
    try:
        page = student_service.load(student_id, current_user, actor())
    except NotFound:
        abort(404)
    card = SimpleNamespace(student=page.student, klass=page.student.klass,
                           college=page.student.klass.college)
    return render_template("student.html", page=page, card=card)
