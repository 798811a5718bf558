"""Screening rounds (涉诈隐患摸排): the rounds, a round's progress, a class's sheet.

The counselor's `screen_class` task screen is the generic task screen with its own
template; this module gives it its context (`task_context`), takes its typed rows
(`submit_form`, called by the task view) and its uploaded sheet (`upload`). Everything
goes through `screening_import`: a sheet or a form is all or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import quote

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from caseflow import access, timefmt
from caseflow.models import ScreeningClass, TaskRow
from caseflow.services import Conflict, Forbidden, NotFound, ValidationFailed, screening, sheets
from caseflow.services import screening_import as imports
from caseflow.services import screening_progress as progress
from caseflow.services import tasks as task_service
from caseflow.views import actor, int_arg, lang
from caseflow.views.present import lookups
from workflows import class_screening as cs
from workflows.fraud_case import CATEGORY_CHOICES

bp = Blueprint("screening", __name__)
Answer = str | Response | tuple[str, int]
CLASS_TASK = (cs.PROCESS_ID, cs.TASK)
REVIEW_TASK = (screening.ROUND_PROCESS, "round_review")
ROW_KEYS = ("status", "category", "fraud_type", "note", "reason", "followup_on")
KINDS = ("xlsx", "csv")
MAX_DUE_DAYS = 90


def _refused(kind: str, object_id: int) -> NoReturn:
    access.refuse(kind, object_id, actor())
    abort(404)


def _choices(table: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    zh = lang().startswith("zh")
    return [(code, zh_text if zh else en_text) for code, (zh_text, en_text) in table.items()]


# -- the rounds ----------------------------------------------------------------------------

@bp.route("/screening")
@login_required
def rounds() -> Answer:
    """List the rounds (newest first) with their coverage; the lead office may start one."""
    return _rounds_page({}, {}, 200)


def _rounds_page(form: dict[str, Any], errors: dict[str, str], status: int) -> Answer:
    try:
        listed = progress.rounds(current_user)
    except Forbidden:
        _refused("screening_round", 0)
    starter = access.may_start_round(current_user)
    colleges = progress.colleges() if starter else []
    cohorts = [(c, COHORT_LABELS[c]()) for c in screening.COHORTS]
    return render_template("screening/rounds.html", rounds=listed, starter=starter,
                           colleges=colleges, cohorts=cohorts, form=form, errors=errors,
                           max_due_days=MAX_DUE_DAYS), status


COHORT_LABELS: dict[str, Callable[[], str]] = {
    "all": lambda: _("Every student"),
    "freshmen": lambda: _("Freshmen (the newest grade)"),
    "interns": lambda: _("Students on internship"),
    "key_groups": lambda: _("Key groups (hardship, academic difficulty, psychological watch)"),
}


@bp.route("/screening/start", methods=["POST"])
@login_required
def start() -> Answer:
    """Start a round for the school, a college or a cohort (the lead office)."""
    if not access.may_start_round(current_user):
        _refused("screening_round", 0)
    form = {k: request.form.get(k, "").strip() for k in ("cohort", "college", "due_days")}
    due_days = int_arg("due_days", request.form)
    if form["due_days"] and (due_days is None or due_days > MAX_DUE_DAYS):
        return _rounds_page(form, {"due_days": _(
            "Give a number of days from 1 to %(max)s.", max=MAX_DUE_DAYS)}, 422)
    try:
        rnd = screening.start_round(current_user, actor("lead_office"), form["cohort"] or "all",
                                    form["college"] or None, due_days)
    except NotFound:
        return _rounds_page(form, {"college": _("Choose a college from the list.")}, 422)
    except ValidationFailed as exc:
        text = str(exc.errors)
        message = (_("No student is in this round's scope: choose another cohort or college.")
                   if "no student" in text else _("Choose a cohort from the list."))
        return _rounds_page(form, {"cohort": message}, 422)
    flash(_("Round %(number)s started: %(classes)s classes, %(students)s students, due %(due)s.",
            number=rnd.number, classes=rnd.classes, students=rnd.students,
            due=timefmt.short(rnd.due_at)))
    return redirect(url_for("screening.round_page", round_id=rnd.id))


@bp.route("/screening/<int:round_id>")
@login_required
def round_page(round_id: int) -> Answer:
    """Show a round: coverage, the classes by college, late classes, students not reached."""
    try:
        rnd = progress.round_for(round_id, current_user)
        classes = progress.classes(rnd.id, current_user)
        cover = progress.coverage(rnd.id, current_user)
        unreached = progress.unreached_students(rnd.id, current_user)
    except (NotFound, Forbidden):
        _refused("screening_round", round_id)
    by_college: dict[str, list[progress.ClassProgress]] = {}
    for item in classes:
        by_college.setdefault(item.college, []).append(item)
    return render_template(
        "screening/round.html", rnd=rnd, cover=cover, by_college=by_college,
        late=[c for c in classes if c.late], unreached=unreached,
        counselors=progress.counselor_names(classes), statuses=dict(_choices(cs.STATUS_CHOICES)),
        cohort=COHORT_LABELS.get(rnd.cohort, lambda: rnd.cohort)())


# -- a class's sheet -------------------------------------------------------------------

def _class(screening_class_id: int) -> ScreeningClass:
    try:
        return progress.class_for(screening_class_id, current_user)
    except (NotFound, Forbidden):
        _refused("screening_class", screening_class_id)


def _attachment(name: str) -> str:
    """Return a Content-Disposition for a Chinese file name (RFC 6266; headers are Latin-1)."""
    fallback = re.sub(r"[^\w.-]|[^\x20-\x7e]", "", name).strip("_-") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


@bp.route("/screening/classes/<int:screening_class_id>/template.<kind>")
@login_required
def template(screening_class_id: int, kind: str) -> Response:
    """Download a class's template (.xlsx or .csv) with its students filled in."""
    sc = _class(screening_class_id)
    if kind not in KINDS:
        abort(404)
    name, content = imports.template(sc.klass.code, kind, current_user, sc.round_id)
    mime = ("text/csv; charset=utf-8" if kind == "csv" else
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    answer = Response(content, mimetype=mime)
    answer.headers["Content-Disposition"] = _attachment(name)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bp.route("/screening/classes/<int:screening_class_id>/upload", methods=["POST"])
@login_required
def upload(screening_class_id: int) -> Answer:
    """Take in an uploaded sheet for a class: all or nothing."""
    sc = _class(screening_class_id)
    sent = request.files.get("sheet")
    data = sent.read() if sent else b""
    if not sent or not sent.filename:
        return _upload_page(sc, [], _("Choose the filled-in .xlsx or .csv file to upload."), 422)
    try:
        result = imports.import_sheet(sc.klass.code, data, current_user, _role_actor(sc),
                                      sc.round_id)
    except sheets.SheetRejected as exc:
        return _upload_page(sc, exc.problems, None, 422)
    except Conflict as exc:
        return _upload_page(sc, [], _conflict_text(exc, sc), 409)
    return _done(result)


def _role_actor(sc: ScreeningClass) -> Any:
    held = access.roles(current_user)
    in_class = "counselor" in held and sc.class_id in current_user.class_ids
    return actor("counselor" if in_class else "college_officer")


def _conflict_text(exc: Conflict, sc: ScreeningClass) -> str:
    if sc.state == "done":
        return _("The screening of this class was already submitted at %(when)s with other "
                 "content. Register a finding for any change.", when=timefmt.short(sc.done_at))
    return _("Someone submitted this class's screening at the same time: reload and check.")


def _upload_page(sc: ScreeningClass, problems: list[sheets.Problem], message: str | None,
                 status: int) -> tuple[str, int]:
    task = _own_task(sc)
    return render_template("screening/upload.html", sc=sc, task=task, problems=problems,
                           message=message, **_sheet_links(sc)), status


def _own_task(sc: ScreeningClass) -> TaskRow | None:
    if sc.task_id is None:
        return None
    try:
        return task_service.get_task(sc.task_id, current_user)
    except NotFound:
        return None


def _sheet_links(sc: ScreeningClass) -> dict[str, Any]:
    return {"xlsx_url": url_for("screening.template", screening_class_id=sc.id, kind="xlsx"),
            "csv_url": url_for("screening.template", screening_class_id=sc.id, kind="csv"),
            "upload_url": url_for("screening.upload", screening_class_id=sc.id),
            "max_mb": round(screening.max_upload() / 1024 / 1024, 1)}


def _done(result: imports.ImportResult) -> Response:
    sc = result.screening_class
    if result.already:
        flash(_("This screening was already taken in at %(when)s: nothing was created twice.",
                when=timefmt.short(sc.done_at)))
    else:
        flash(_("Screening of class %(klass)s taken in: %(talked)s talked, %(flagged)s "
                "flagged, %(missed)s not reached.", klass=sc.klass.code, talked=sc.talked,
                flagged=sc.flagged, missed=sc.not_reached))
    if result.cases_opened or result.findings_attached:
        flash(_("Cases opened: %(opened)s; findings added to open cases: %(attached)s.",
                opened=result.cases_opened, attached=result.findings_attached))
    if result.filing_error:
        flash(_("Some flagged students' cases could not be opened yet; they are opened "
                "shortly, or send the same sheet again."))
    return redirect(url_for("main.home"))


# -- the task screens ------------------------------------------------------------------

def is_class_task(row: TaskRow) -> bool:
    """Say whether a task is a class's screening (its rows go through the import)."""
    return (row.process_id, row.task_spec) == CLASS_TASK


def task_context(row: TaskRow) -> dict[str, Any]:
    """Return what the screening task templates show beside the generic task screen."""
    if is_class_task(row):
        sc = progress.class_of_task(row)
        if sc is None:
            return {}
        return {"sc": sc, "roster": imports.roster(sc), "problems": [], "typed": {},
                "statuses": _choices(cs.STATUS_CHOICES), "categories": _choices(CATEGORY_CHOICES),
                "fraud_types": lookups(lang()).get("fraud_type", []),
                "behaviours": lookups(lang()).get("behaviour", []), **_sheet_links(sc)}
    if (row.process_id, row.task_spec) == REVIEW_TASK:
        return {"college": progress.college_progress(row)}
    return {}


def submit_form(row: TaskRow, show: Callable[..., Answer]) -> Answer:
    """Take in the rows typed into a class's screening task; `show` renders the screen."""
    sc = progress.class_of_task(row)
    if sc is None:
        abort(404)
    people = imports.roster(sc)
    typed = {s.student_no: {k: request.form.get(f"rows-{n}-{k}", "").strip()
                            for k in ROW_KEYS} for n, s in enumerate(people.students, 1)}
    rows = [{"student_no": s.student_no, "name": s.name,
             **{k: v or None for k, v in typed[s.student_no].items()}}
            for s in people.students]
    try:
        result = imports.submit_rows(sc.id, rows, current_user, actor(row.role))
    except sheets.SheetRejected as exc:
        return show(extra={"problems": exc.problems, "typed": typed}, status=422)
    except Conflict as exc:
        return show(conflict=exc, status=409)
    except (NotFound, Forbidden):
        abort(404)
    return _done(result)
