"""Home: my open tasks and the cases I may see."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from caseflow import access
from caseflow.db import db
from caseflow.models import Case, Student, TaskRow

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def home() -> str:
    """List my open tasks (by due time) and the cases in my scope."""
    page = max(request.args.get("page", 1, type=int), 1)
    size = current_app.config["PAGE_SIZE"]
    tasks = db.session.execute(
        select(TaskRow, Case.number, Case.risk_level, Student.name)
        .join(Case, Case.id == TaskRow.case_id, isouter=True)
        .join(Student, Student.id == Case.student_id, isouter=True)
        .where(TaskRow.state == "ready", access.task_filter(current_user))
        .order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.id).limit(size)
    ).all()
    case_query = select(Case, Student.name).join(Student, Student.id == Case.student_id).where(
        access.case_filter(current_user))
    total = db.session.scalar(select(func.count()).select_from(case_query.subquery()))
    cases = db.session.execute(
        case_query.order_by(Case.registered_at.desc(), Case.id.desc())
        .limit(size).offset((page - 1) * size)).all()
    return render_template("home.html", tasks=tasks, cases=cases, page=page,
                           pages=max((total + size - 1) // size, 1), total=total)
