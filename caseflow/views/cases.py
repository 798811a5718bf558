"""Cases: the list, the case file (history and diagram), its printable history, registration."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

import workflows
from caseflow import access, clock, forms
from caseflow.diagram import DEFAULT_LABELS
from caseflow.models import Case
from caseflow.services import (
    NotFound,
    ValidationFailed,
    bpmninfo,
    casediagram,
    casefile,
    exports,
    idempotency,
)
from caseflow.services import caselist as caselist_service
from caseflow.services import cases as case_service
from caseflow.views import (
    actor,
    date_arg,
    int_arg,
    lang,
    page_arg,
    page_size,
    pages,
    present,
    text_arg,
)
from caseflow.views import timeline as timeline_view
from caseflow.views.present import lookups

bp = Blueprint("cases", __name__)
CATEGORIES = ("victim", "involved", "at_risk")
RISKS = ("red", "orange", "yellow")
STATES = ("open", "closed", "withdrawn")


@bp.route("/cases")
@login_required
def case_list() -> str:
    """Search and filter the cases in my scope."""
    if not access.may_list_cases(current_user):
        abort(403)
    f = caselist_service.CaseQuery(
        q=request.args.get("q", "")[:100], college_id=int_arg("college"),
        class_id=int_arg("class"), category=text_arg("category", CATEGORIES),
        risk=text_arg("risk", RISKS), state=text_arg("state", STATES),
        date_from=date_arg("from"), date_to=date_arg("to"), page=page_arg())
    rows, total = caselist_service.search(current_user, f, page_size())
    colleges, classes = caselist_service.places(current_user)
    return render_template("case_list.html", rows=rows, total=total, f=f, page=f.page,
                           pages=pages(total), colleges=colleges, classes=classes,
                           categories=CATEGORIES, risks=RISKS, states=STATES,
                           export_max=exports.MAX_ROWS)


def _open(case_id: int, via: str) -> Case:
    try:
        return casefile.open_case(case_id, current_user, actor(), via=via)
    except NotFound:
        abort(404)


def _info(file: casefile.CaseFile) -> bpmninfo.BpmnInfo | None:
    return bpmninfo.for_version(file.version_id) if file.version_id is not None else None


def _diagram(file: casefile.CaseFile, info: bpmninfo.BpmnInfo | None) -> Markup | None:
    if info is None:
        return None
    marks = casediagram.compute(info, [*file.done_tasks, *file.open_tasks], file.events,
                                clock.now())
    names = {"completed": _("Completed"), "current": _("Current"), "overdue": _("Overdue"),
             "cancelled": _("Cancelled"), "not_reached": _("Not reached")}
    text = casediagram.svg(info, marks, {k: names.get(k, v) for k, v in DEFAULT_LABELS.items()})
    # The SVG is built with lxml, which escapes every name and label it draws.
    return Markup(text) if text else None


@bp.route("/cases/<int:case_id>")
@login_required
def case_file(case_id: int) -> str:
    """Show a case file: student, facts, steps, notifications, history and diagram."""
    case = _open(case_id, "case_file")
    file = casefile.gather(case, current_user)
    wanted, info = text_arg("type", limit=50), _info(file)
    entries = timeline_view.history(file, lang(), access.sees_confidential(current_user), wanted,
                                    info)
    return render_template("case_file.html", file=file, s=file.summary, entries=entries,
                           event_types=timeline_view.event_types(file), wanted=wanted,
                           diagram=_diagram(file, info), **_presenters(file))


def _presenters(file: casefile.CaseFile) -> dict[str, Any]:
    """Return the functions the case templates use to show stored form data."""
    language, secret_ok = lang(), access.sees_confidential(current_user)
    process_id = file.summary.case.process_id
    return {
        "finding_items": lambda data: present.registration_items(process_id, data, language),
        "step_items": lambda t, data: present.step_items(t.process_id, t.task_spec, data,
                                                          language, secret_ok, file.people,
                                                          file.notes.get(t.id)),
    }


@bp.route("/cases/<int:case_id>/history")
@login_required
def case_history(case_id: int) -> str:
    """Show the case's whole history as a printable page."""
    case = _open(case_id, "print")
    file = casefile.gather(case, current_user)
    entries = timeline_view.history(file, lang(), access.sees_confidential(current_user),
                                    info=_info(file))
    return render_template("case_print.html", file=file, s=file.summary, entries=entries,
                           now=clock.now(), **_presenters(file))


@bp.route("/cases/new")
@login_required
def new_case() -> str:
    """Find the student a new finding is about (by number or name)."""
    if not access.may_register(current_user):
        abort(403)
    q = request.args.get("q", "")[:50]
    hits = caselist_service.find_students(current_user, q)
    return render_template("case_new.html", q=q, hits=hits)


def _registration_schema() -> Any:
    return workflows.describe(case_service.CASE_PROCESS).REGISTRATION()


@bp.route("/cases/new/<int:student_id>", methods=["GET", "POST"])
@login_required
def register(student_id: int) -> str | Response | tuple[str, int]:
    """Register a finding about a student: a new case, or added to the open one."""
    try:
        hit = caselist_service.student_for(current_user, student_id)
    except NotFound:
        casefile.deny("student", student_id, actor())
        abort(404)
    schema, language = _registration_schema(), lang()
    values: dict[str, Any] | None = None
    errors: dict[str, list[str]] = {}
    problem, status = None, 200
    if request.method == "POST":
        values = forms.raw_values(schema, request.form)
        try:
            # the form's one-time token: a double click or a retried POST registers it once
            done = case_service.register_form(student_id, forms.to_load(schema, values),
                                              current_user, actor(),
                                              request.form.get("submission_token"))
        except ValidationFailed as exc:
            messages = getattr(workflows.describe(case_service.CASE_PROCESS), "MESSAGES_ZH", {})
            errors = forms.translate_errors(exc.errors, language, messages)
        except idempotency.TokenUsed:
            problem, status = _("This form was already used: reload the page and register "
                                "the finding again. Nothing was saved."), 409
        except NotFound:
            problem, status = _("The case process is not deployed yet: ask the administrator "
                                "to deploy it, then submit again. Nothing was saved."), 503
        else:
            return _registered(done)
    fields_ = forms.describe(schema, language, values, errors, lookups(language),
                             skip=("student_id",))
    return render_template("case_register.html", hit=hit, fields=fields_, errors=errors,
                           problem=problem, submission_token=idempotency.new_token()
                           ), 422 if errors else status


def _registered(done: case_service.Registered) -> Response:
    case = done.case
    if done.repeated:
        flash(_("This form was already submitted: the finding went to case %(number)s "
                "then, and was not registered again.", number=case.number))
    elif done.opened:
        flash(_("Case %(number)s opened.", number=case.number))
    else:
        flash(_("The student already has an open case: your finding was added to case "
                "%(number)s.", number=case.number))
    if access.may_see_case(current_user, case):
        return redirect(url_for("cases.case_file", case_id=case.id))
    return redirect(url_for("main.home"))
