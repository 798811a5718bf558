"""Reveal one masked number with a stated purpose (audited), and the links that lead there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from caseflow import access
from caseflow.models import Case, Guardian, Student, TaskRow
from caseflow.services import NotFound, ValidationFailed
from caseflow.services import reveal as reveal_service
from caseflow.views import actor, int_arg
from caseflow.views import timeline as timeline_view
from caseflow.views.present import Item

bp = Blueprint("reveal", __name__)
Answer = str | tuple[str, int]


def _where() -> dict[str, Any]:
    values = request.values
    return {"guardian_id": int_arg("guardian", values), "task_id": int_arg("task", values),
            "name": (values.get("name") or "").strip()[:100] or None}


def _field() -> str:
    return request.values.get("field", "").strip()[:20]


@bp.route("/cases/<int:case_id>/reveal", methods=["GET", "POST"])
@login_required
def case_field(case_id: int) -> Answer:
    """Ask why, then show one masked number of a case once (audited)."""
    try:
        target = reveal_service.for_case(case_id, _field(), current_user, actor(), **_where())
    except NotFound:
        abort(404)
    return _answer(target, url_for("cases.case_file", case_id=case_id))


@bp.route("/students/<int:student_id>/reveal", methods=["GET", "POST"])
@login_required
def student_field(student_id: int) -> Answer:
    """Ask why, then show one masked number of a student once (audited)."""
    where = _where()
    try:
        target = reveal_service.for_student(student_id, _field(), current_user, actor(),
                                            guardian_id=where["guardian_id"])
    except NotFound:
        abort(404)
    return _answer(target, url_for("students.student_page", student_id=student_id))


def _what(target: reveal_service.Target) -> str:
    if target.field == "phone":
        return _("The student's phone number")
    if target.field == "id_card":
        return _("The student's ID-card number")
    if target.field == "guardian_phone" and target.guardian is not None:
        return _("The phone number of %(name)s (%(relation)s)", name=target.guardian.name,
                 relation=target.guardian.relation)
    return target.label or target.name or ""


def _answer(target: reveal_service.Target, back: str) -> Answer:
    purpose = request.form.get("purpose", "")
    errors: list[str] = []
    if request.method == "POST":
        try:
            clear = reveal_service.reveal(target, purpose, actor())
        except ValidationFailed:
            errors = [_("State the purpose in %(low)s to %(high)s characters.",
                        low=reveal_service.PURPOSE_MIN, high=reveal_service.PURPOSE_MAX)]
        else:
            return render_template("reveal_shown.html", what=_what(target), value=clear,
                                   back=back, target=target)
    return render_template("reveal.html", what=_what(target), target=target, errors=errors,
                           masked=reveal_service.masked(target), purpose=purpose,
                           back=back), (422 if errors else 200)


# -- links on the case file and the student page ------------------------------------------


def _allowed(field: str, case: Case | None = None, student: Student | None = None) -> bool:
    cache = g.setdefault("_reveal_allowed", {})
    key = (field, case.id if case else None, student.id if student else None)
    if key not in cache:
        cache[key] = access.may_reveal(current_user, field, case=case, student=student)
    return bool(cache[key])


@bp.app_template_global()
def reveal_url(case: Case | None, field: str, guardian: Guardian | None = None,
               student: Student | None = None) -> str | None:
    """Return the reveal link of a number the signed-in person may reveal, else None."""
    if not current_user.is_authenticated:
        return None
    args: dict[str, Any] = {"field": field}
    if guardian is not None:
        args["guardian"] = guardian.id
    if case is not None:
        ok = _allowed(field, case=case)
        return url_for("reveal.case_field", case_id=case.id, **args) if ok else None
    if student is not None and _allowed(field, student=student):
        return url_for("reveal.student_field", student_id=student.id, **args)
    return None


@bp.app_template_global()
def reveal_task_links(case: Case, task: TaskRow) -> list[tuple[str, str]]:
    """Return (label, link) of a completed step's numbers the signed-in person may reveal."""
    if not current_user.is_authenticated or task.state != "completed":
        return []
    links = []
    for name, (kind, label) in reveal_service.sensitive_fields(task.process_id,
                                                               task.task_spec).items():
        if _allowed(kind, case=case):
            text = reveal_service.label_text(label) or name
            links.append((text, url_for("reveal.case_field", case_id=case.id,
                                        field="task_field", task=task.id, name=name)))
    return links


# -- the history line of a revealed number -------------------------------------------------


def _revealed(ev: Any, d: Mapping[str, Any], ctx: Any) -> list[Item]:
    kinds = {"phone": _("Phone"), "id_card": _("ID card"), "bank_account": _("Bank account")}
    items = [Item(_("Number"), str(kinds.get(d.get("field"), d.get("field") or ""))),
             Item(_("Purpose"), str(d.get("purpose") or ""))]
    if d.get("masked"):
        items.append(Item(_("Shown"), str(d["masked"]), "masked"))
    return items


timeline_view.DESCRIBERS.setdefault("field_revealed", _revealed)
