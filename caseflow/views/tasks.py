"""The task screen: one generic form per human task."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

import workflows
from caseflow import forms
from caseflow.db import db
from caseflow.models import Case, Lookup, TaskRow
from caseflow.services import Conflict, NotFound, ValidationFailed
from caseflow.services import tasks as task_service
from caseflow.views import actor
from caseflow.web import select_locale

bp = Blueprint("tasks", __name__)


def _lookups(lang: str) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    rows = db.session.scalars(select(Lookup).where(Lookup.active.is_(True))
                              .order_by(Lookup.kind, Lookup.sort, Lookup.id))
    for row in rows:
        label = row.label_zh if lang.startswith("zh") else row.label_en
        out.setdefault(row.kind, []).append((row.code, label))
    return out


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> str | Response | tuple[str, int]:
    """Show a task's form; complete it on a valid submission."""
    try:
        row = task_service.get_task(task_id, current_user)
    except NotFound:
        abort(404)
    schema_cls = workflows.form(row.process_id, row.task_spec)
    schema = schema_cls() if schema_cls else None
    lang = select_locale()
    values, errors, conflict = {}, {}, None
    if request.method == "POST" and schema is not None:
        values = forms.parse_form(schema, request.form)
        try:
            task_service.complete_task(row.id, values, current_user, actor(row.role))
            flash(_("Task completed."))
            return redirect(_next_url(row))
        except ValidationFailed as exc:
            errors = exc.errors
        except Conflict as exc:
            conflict = exc
    elif row.state != "ready":
        conflict = task_service.already_done(row)
    fields = forms.describe(schema, lang, values, errors, _lookups(lang)) if schema else []
    case = db.session.get(Case, row.case_id) if row.case_id else None
    status = 409 if conflict else (422 if errors else 200)
    return render_template("task.html", task=row, case=case, fields=fields, errors=errors,
                           conflict=conflict, values=values), status


def _next_url(row: TaskRow) -> str:
    nxt = db.session.scalar(
        select(TaskRow.id).where(TaskRow.case_id == row.case_id, TaskRow.state == "ready",
                                 TaskRow.assignee_id == current_user.id)
        .order_by(TaskRow.due_at).limit(1)) if row.case_id else None
    return url_for("tasks.task", task_id=nxt) if nxt else url_for("main.home")
