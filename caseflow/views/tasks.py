"""The task screen (one generic form per human task), save-draft, claim, release, reassign."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import Schema, fields
from werkzeug.wrappers import Response

import workflows
from caseflow import access, forms
from caseflow.db import db
from caseflow.models import Case, TaskRow
from caseflow.services import (
    Conflict,
    Forbidden,
    NotFound,
    ProcessFailed,
    ValidationFailed,
    bpmninfo,
    casefile,
    drafts,
    idempotency,
)
from caseflow.services import inbox as inbox_service
from caseflow.services import tasks as task_service
from caseflow.views import actor, int_arg, lang, safe_next
from caseflow.views.present import Item, lookups, yes_no

bp = Blueprint("tasks", __name__)
Answer = str | Response | tuple[str, int]


def _load(task_id: int) -> TaskRow:
    """Load a task the user may work on; audit and answer 404 otherwise."""
    try:
        return task_service.get_task(task_id, current_user)
    except NotFound:
        casefile.deny("task", task_id, actor())
        abort(404)


def _actor_for(task_id: int) -> Any:
    row = db.session.get(TaskRow, task_id)
    role = row.role if row is not None and row.role in access.roles(current_user) else None
    return actor(role)


def _schema(row: TaskRow) -> Schema | None:
    try:
        schema_cls = workflows.form(row.process_id, row.task_spec)
    except workflows.UnknownProcess:
        return None
    return schema_cls() if schema_cls else None


def _messages(row: TaskRow) -> dict[str, str]:
    try:
        return dict(getattr(workflows.describe(row.process_id), "MESSAGES_ZH", {}))
    except workflows.UnknownProcess:
        return {}


def _pickers(schema: Schema, case: Case | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the options and defaults of fields that name a person (e.g. counselor_id)."""
    choices: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for name, f in schema.fields.items():
        if isinstance(f, fields.Integer) and name.endswith("counselor_id") and case:
            people = inbox_service.people("counselor", case.college_id)
            choices[name] = [(str(u.id), u.display_name) for u in people]
            defaults[name] = str(case.counselor_id) if case.counselor_id else None
    return choices, defaults


def kept_items(schema: Schema, values: dict[str, Any], language: str) -> list[Item]:
    """Return what the user typed, labelled, so it can be copied after a conflict."""
    items = []
    for f in forms.describe(schema, language, values, lookups=lookups(language)):
        value = f.value
        if value in (None, "", [], False):
            continue
        options = dict(f.choices)
        if isinstance(value, list):
            text = "、".join(options.get(v, v) for v in value)
        elif isinstance(value, bool):
            text = yes_no(value)
        else:
            text = options.get(str(value), str(value))
        items.append(Item(f.label, text))
    return items


def _show(row: TaskRow, values: dict[str, Any] | None = None,
          errors: dict[str, list[str]] | None = None, conflict: Conflict | None = None,
          status: int = 200, extra: dict[str, Any] | None = None,
          fault: ProcessFailed | None = None) -> tuple[str, int]:
    from caseflow.views import screening as screening_views

    schema, language = _schema(row), lang()
    draft_at = None
    if values is None and row.state == "ready":
        saved = drafts.load(row.id, current_user)
        if saved:
            values, draft_at = saved
    if row.state != "ready" and conflict is None:
        conflict, status = task_service.already_done(row), 409
    case = db.session.get(Case, row.case_id) if row.case_id else None
    fields_, kept = [], []
    if schema is not None:
        choices, defaults = _pickers(schema, case)
        fields_ = forms.describe(schema, language, values, errors, lookups(language),
                                 choices=choices, defaults=defaults)
        if conflict is not None and values:
            kept = kept_items(schema, values, language)
    return render_template(
        [f"tasks/{row.process_id}/{row.task_spec}.html", "task.html"], task=row,
        s=casefile.summary(case) if case else None, fields=fields_, errors=errors or {},
        conflict=conflict, fault=fault, kept=kept, draft_at=draft_at,
        has_schema=schema is not None,
        instructions=bpmninfo.instructions(row.process_version_id, row.task_spec),
        mine=row.assignee_id == current_user.id,
        may_reassign=row.state == "ready" and access.may_reassign(current_user, row),
        submission_token=idempotency.new_token() if row.state == "ready" else None,
        **{**screening_views.task_context(row), **(extra or {})},
    ), status


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> Answer:
    """Show a task's form; save a draft, or complete it on a valid submission."""
    row = _load(task_id)
    if request.method == "GET":
        page = _show(row)
        # recorded once the page is ready: the commit would expire what the page reads
        casefile.task_viewed(row, actor(row.role))
        return page
    from caseflow.views import screening as screening_views

    if screening_views.is_class_task(row):  # its rows go through the screening import
        return screening_views.submit_form(row, lambda **kw: _show(row, **kw))
    schema = _schema(row)
    if schema is None:
        return _show(row, {}, {"_schema": [_("This step has no form: ask the administrator.")]},
                     status=422)
    values = forms.raw_values(schema, request.form)
    if request.form.get("action") == "draft":
        return _save_draft(row, values)
    return _complete(row, schema, values)


def _save_draft(row: TaskRow, values: dict[str, Any]) -> Answer:
    try:
        drafts.save(row.id, values, current_user, actor(row.role))
    except Conflict as exc:
        return _show(row, values, conflict=exc, status=409)
    flash(_("Draft saved. Nothing is sent until you complete the task."))
    return redirect(url_for("tasks.task", task_id=row.id))


def _complete(row: TaskRow, schema: Schema, values: dict[str, Any]) -> Answer:
    try:
        # the form's one-time token: a double click or a retried POST gets the first answer
        done = task_service.submit(row.id, forms.to_load(schema, values), current_user,
                                   actor(row.role), request.form.get("submission_token"))
    except ValidationFailed as exc:
        errors = forms.translate_errors(exc.errors, lang(), _messages(row))
        return _show(row, values, errors, status=422)
    except Conflict as exc:
        db.session.refresh(row)
        return _show(row, values, conflict=exc, status=409)
    except ProcessFailed as exc:  # rolled back and recorded: the model needs fixing
        return _show(row, values, fault=exc, status=500)
    flash(_("Task completed."))
    nxt = done.next_task_id
    return redirect(url_for("tasks.task", task_id=nxt) if nxt else url_for("main.home"))


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int) -> Response:
    """Take a queued task for yourself."""
    try:
        task_service.claim(task_id, current_user, _actor_for(task_id))
    except NotFound:
        casefile.deny("task", task_id, actor())
        abort(404)
    except Conflict:
        flash(_("Someone else took this task first, or it is already done."))
        return redirect(url_for("main.home"))
    flash(_("The task is yours now."))
    return redirect(safe_next(url_for("tasks.task", task_id=task_id)))


@bp.route("/tasks/<int:task_id>/release", methods=["POST"])
@login_required
def release(task_id: int) -> Response:
    """Put a task you hold back in its role's queue."""
    try:
        task_service.release(task_id, current_user, _actor_for(task_id))
    except NotFound:
        casefile.deny("task", task_id, actor())
        abort(404)
    except Forbidden:
        flash(_("Only the person holding a task can release it."))
        return redirect(url_for("tasks.task", task_id=task_id))
    flash(_("The task is back in the queue."))
    return redirect(url_for("main.home"))


@bp.route("/tasks/<int:task_id>/reassign", methods=["GET", "POST"])
@login_required
def reassign(task_id: int) -> Answer:
    """Hand an open task to another person of its role, with a reason."""
    try:
        row = inbox_service.reassignable(task_id, current_user)
    except NotFound:
        casefile.deny("task", task_id, actor())
        abort(404)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        to_user = int_arg("to_user", request.form)
        try:
            inbox_service.reassign_task(row.id, to_user, request.form.get("reason", ""),
                                        current_user, _actor_for(task_id))
        except ValidationFailed as exc:
            errors = forms.translate_errors(exc.errors, lang())
        else:
            flash(_("The task was reassigned."))
            return redirect(url_for("main.home"))
    case = db.session.get(Case, row.case_id) if row.case_id else None
    return render_template("reassign.html", task=row, case=case, errors=errors,
                           people=inbox_service.candidates(row), form=request.form), (
        422 if errors else 200)
