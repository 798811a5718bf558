"""Police warnings (预警劝阻) on screen: the list, entry, and resolving a warning's student."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from caseflow import access, clock, forms
from caseflow.models import PoliceWarning
from caseflow.services import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    caselist,
    idempotency,
)
from caseflow.services import warninglist as listing
from caseflow.services import warnings as warning_service
from caseflow.views import actor, int_arg, lang, page_arg, page_size, pages
from caseflow.views.present import lookups
from workflows import warning_dissuasion as wd

bp = Blueprint("warnings", __name__)
Answer = str | Response | tuple[str, int]

STATES = {"unmatched": _l("No student found"), "candidates": _l("Pick the student"),
          "matched": _l("Being reached"), "reached": _l("Reached"),
          "closed": _l("Police told")}
METHODS = {"phone": _l("Phone number"), "id_card": _l("ID-card number"),
           "picked": _l("Picked from the candidates"), "manual": _l("Assigned by hand")}
REASONS = {"phone": _l("Same phone number"), "id_card": _l("Same ID-card number"),
           "name": _l("Same name"), "name_college": _l("Same name and college")}


# The services' own messages about a chosen student, in Chinese.
RESOLVE_ZH = {"choose one of the warning's candidates": "请从该预警的候选学生中选择"}


def _urgency(code: str | None) -> str:
    zh, en = wd.URGENCY_CHOICES.get(code or "", (code or "", code or ""))
    return zh if lang().startswith("zh") else en


def _labels() -> dict[str, Any]:
    return {"WARNING_STATES": STATES, "MATCH_METHODS": METHODS, "CANDIDATE_REASONS": REASONS,
            "urgency_label": _urgency}


def _readers_only() -> None:
    if not access.may_see_warnings(current_user):
        abort(404)


@bp.route("/warnings")
@login_required
def warning_list() -> str:
    """List the warnings waiting for a student, then the matched ones, newest first."""
    _readers_only()
    page = page_arg()
    rows, total = listing.recent(current_user, page, page_size())
    return render_template("warnings/list.html", waiting=listing.open_rows(current_user),
                           rows=rows, total=total, page=page, pages=pages(total),
                           may_enter=access.may_enter_warning(current_user), **_labels())


def _entry_fields(values: dict[str, Any] | None, errors: dict[str, list[str]]) -> list[Any]:
    language = lang()
    colleges = caselist.places(current_user)[0]
    return forms.describe(
        wd.WARNING(), language, values, errors, lookups(language),
        choices={"college_id": [(str(c.id), c.name) for c in colleges]},
        defaults={"warned_at": forms.shown(clock.now())})


@bp.route("/warnings/new", methods=["GET", "POST"])
@login_required
def new_warning() -> Answer:
    """Enter a police warning; it is matched to a student at once."""
    if not access.may_enter_warning(current_user):
        abort(404)
    values: dict[str, Any] | None = None
    errors: dict[str, list[str]] = {}
    conflict = problem = None
    status = 200
    if request.method == "POST":
        values = forms.raw_values(wd.WARNING(), request.form)
        data = forms.to_load(wd.WARNING(), values)
        earlier = listing.just_entered(data, current_user)
        if earlier is not None:
            flash(_("This warning was already entered a moment ago as %(number)s; it was "
                    "not entered again.", number=earlier.number))
            return redirect(url_for("warnings.warning_page", warning_id=earlier.id))
        try:
            # the form's one-time token: a double click or a retried POST enters it once
            entry = warning_service.enter(data, current_user, actor(),
                                          request.form.get("submission_token"))
        except ValidationFailed as exc:
            errors = forms.translate_errors(exc.errors, lang(), wd.MESSAGES_ZH)
        except idempotency.TokenUsed:
            problem, status = _("This form was already used: reload the page and enter the "
                                "warning again. Nothing was saved."), 409
        except Conflict as exc:
            conflict, status = exc.info.get("number"), 409
        except NotFound:
            problem, status = _("The warning process is not deployed yet: ask the "
                                "administrator to deploy it, then submit again. Nothing was "
                                "saved."), 503
        else:
            if entry.repeated:
                flash(_("This form was already submitted: warning %(number)s was entered "
                        "then, and was not entered again.", number=entry.warning.number))
                return redirect(url_for("warnings.warning_page", warning_id=entry.warning.id))
            return _entered(entry.warning)
    return render_template("warnings/new.html", fields=_entry_fields(values, errors),
                           errors=errors, conflict=conflict,
                           conflict_id=listing.id_of(conflict), problem=problem,
                           submission_token=idempotency.new_token()), 422 if errors else status


def _entered(warning: PoliceWarning) -> Response:
    if warning.state == "matched" and warning.student is not None:
        flash(_("Warning %(number)s entered and matched to %(name)s (%(no)s): the counselor "
                "and the security office have been asked to reach the student now.",
                number=warning.number, name=warning.student.name,
                no=warning.student.student_no))
    elif warning.state == "candidates":
        flash(_("Warning %(number)s entered. Several students may be meant: pick the right "
                "one below.", number=warning.number))
    else:
        flash(_("Warning %(number)s entered, but no student matches it: find the student "
                "below and assign them by hand. It stays on the list until then.",
                number=warning.number))
    return redirect(url_for("warnings.warning_page", warning_id=warning.id))


def _show(warning_id: int, problem: str | None = None,
          errors: dict[str, list[str]] | None = None, status: int = 200) -> tuple[str, int]:
    try:
        page = listing.page(warning_id, current_user, actor())
    except NotFound:
        abort(404)
    may_resolve = (access.may_enter_warning(current_user)
                   and page.row.warning.state in warning_service.OPEN_STATES)
    q = request.args.get("q", "")[:50].strip()
    hits = caselist.find_students(current_user, q) if may_resolve and q else []
    return render_template("warnings/page.html", page=page, w=page.row.warning, r=page.row,
                           may_resolve=may_resolve, q=q, hits=hits, problem=problem,
                           errors=errors or {}, **_labels()), status


@bp.route("/warnings/<int:warning_id>")
@login_required
def warning_page(warning_id: int) -> Answer:
    """Show one warning: facts, match, candidates or student search, and progress."""
    return _show(warning_id)


def _resolve(warning_id: int, how: Any) -> Answer:
    if not access.may_enter_warning(current_user):
        access.refuse("warning", warning_id, actor(), detail={"need": "resolve"})
        abort(404)
    student_id = int_arg("student_id", request.form)
    if student_id is None:
        return _show(warning_id, errors={"student_id": [_("Choose a student.")]}, status=422)
    try:
        warning = how(warning_id, student_id, current_user, actor())
    except (NotFound, Forbidden):
        abort(404)
    except Conflict:
        return _show(warning_id, problem=_("This warning is already matched to a student "
                                           "(someone else resolved it first): nothing was "
                                           "changed."), status=409)
    except ValidationFailed as exc:
        return _show(warning_id, errors=forms.translate_errors(exc.errors, lang(), RESOLVE_ZH),
                     status=422)
    flash(_("Warning %(number)s is now matched to %(name)s: the counselor and the security "
            "office have been asked to reach the student now.", number=warning.number,
            name=warning.student.name))
    return redirect(url_for("warnings.warning_page", warning_id=warning.id))


@bp.route("/warnings/<int:warning_id>/pick", methods=["POST"])
@login_required
def pick(warning_id: int) -> Answer:
    """Choose the warning's student among its candidates (this starts the dissuasion)."""
    return _resolve(warning_id, warning_service.pick_candidate)


@bp.route("/warnings/<int:warning_id>/assign", methods=["POST"])
@login_required
def assign(warning_id: int) -> Answer:
    """Name an unmatched warning's student by hand (this starts the dissuasion)."""
    return _resolve(warning_id, warning_service.assign_student)
