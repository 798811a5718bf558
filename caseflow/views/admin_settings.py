"""The admin screen of the school settings: grouped values, defaults, meanings, changes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from caseflow import access, settings
from caseflow.services import ValidationFailed, settings_admin
from caseflow.settings_defaults import RISK_LEVELS
from caseflow.views import actor
from caseflow.web import select_locale

bp = Blueprint("admin_settings", __name__, url_prefix="/admin/settings")


@bp.before_request
def _admins_only() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not access.may_manage_settings(current_user):
        abort(404)
    return None


def _lang() -> str:
    return "en" if select_locale() == "en" else "zh"


@bp.get("")
def index() -> str:
    """List the settings by group, each with its value, default, meaning and a change form."""
    return _page(_lang())


@bp.post("/<path:key>")
def save(key: str) -> Response | tuple[str, int]:
    """Save a new value with its reason; show the form again, with what was typed, if refused."""
    if key not in settings.REGISTRY:
        abort(404)
    lang = _lang()
    raw = _raw_value(key, request.form)
    reason = request.form.get("reason", "")
    try:
        result = settings_admin.change(key, raw, reason, actor("admin"), current_user.id,
                                       lang=lang)
    except ValidationFailed as exc:
        return _page(lang, editing=key, errors=exc.errors, typed=raw, reason=reason), 422
    flash(_("Saved: %(summary)s", summary=result.summary(lang)))
    note = result.note(lang)
    if note:
        flash(note)
    return redirect(url_for(".index") + "#" + anchor(key))


def anchor(key: str) -> str:
    """Return the id of a setting's block on the page."""
    return "s-" + key.replace(".", "-")


def _raw_value(key: str, form: MultiDict[str, str]) -> Any:
    if settings.kind(key).per_level:
        return {level: form.get(f"value_{level}", "").strip() for level in RISK_LEVELS}
    return form.get("value", "").strip()


def _hints() -> dict[str, str]:
    duration = _("An ISO 8601 duration: PT30M is 30 minutes, PT24H 24 hours, P7D 7 days.")
    number = _("A whole number.")
    return {"duration": duration, "due_levels": duration, "due_flat": duration,
            "count": number, "level_counts": number, "month": _("A month, 1 to 12."),
            "cutoff_day": _("0 for the calendar month, or a day from 1 to 28."),
            "percent": _("A percentage from 0 to 100."),
            "date_list": _("Dates as YYYY-MM-DD, separated by commas.")}


def _page(lang: str, editing: str | None = None, errors: dict[str, list[str]] | None = None,
          typed: Any = None, reason: str = "") -> str:
    groups = settings_admin.grouped(settings_admin.describe_all(lang))
    levels = [(lv, names[1] if lang == "en" else names[0])
              for lv, names in settings.LEVEL_NAMES.items()]
    return render_template("admin/settings.html", groups=groups, editing=editing,
                           errors=errors or {}, typed=typed, reason=reason, levels=levels,
                           hints=_hints(), anchor=anchor)
