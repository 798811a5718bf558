"""Display names of the codes the screens show: roles, risk levels, categories, events."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_babel import lazy_gettext as _l

ROLES = {
    "counselor": _l("Counselor"),
    "college_officer": _l("College officer"),
    "psych_center": _l("Psych centre"),
    "security_office": _l("Security office"),
    "student_affairs": _l("Student affairs"),
    "leader": _l("Leader"),
    "admin": _l("Administrator"),
    "lead_office": _l("Lead office"),
}
RISKS = {"red": _l("red"), "orange": _l("orange"), "yellow": _l("yellow")}
CATEGORIES = {"victim": _l("Victim"), "involved": _l("Involved"), "at_risk": _l("At risk")}
STATES = {"open": _l("Open"), "closed": _l("Closed"), "withdrawn": _l("Withdrawn")}
TASK_STATES = {"ready": _l("Waiting"), "completed": _l("Completed"),
               "cancelled": _l("Cancelled")}
FLAGS = {
    "major": _l("Major case"),
    "need_stop_payment": _l("Stop-payment needed"),
    "need_police": _l("Police needed"),
    "need_psych": _l("Psych support needed"),
    "need_parent_contact": _l("Parent contact needed"),
    "need_discipline": _l("Discipline decision needed"),
    "need_class_lesson": _l("Class warning lesson needed"),
}
EVENTS = {
    "case_opened": _l("Case opened"),
    "finding_attached": _l("Finding attached"),
    "case_viewed": _l("Case file opened"),
    "access_denied": _l("Access refused"),
    "case_reassigned": _l("Counselor reassigned"),
    "case_closed": _l("Case closed"),
    "case_withdrawn": _l("Case withdrawn"),
    "task_opened": _l("Step opened"),
    "task_completed": _l("Step completed"),
    "task_cancelled": _l("Step cancelled"),
    "process_failed": _l("Process failed at a step (nothing saved)"),
    "process_migrated": _l("Moved to another process version"),
    "task_claimed": _l("Step claimed"),
    "task_released": _l("Step released"),
    "task_reassigned": _l("Step reassigned"),
    "task_draft_saved": _l("Draft saved"),
    "decision_made": _l("Decision made"),
    "gateway_passed": _l("Path chosen"),
    "timer_fired": _l("Timer fired"),
    "escalation_raised": _l("Escalation raised"),
    "event_thrown": _l("Event raised"),
    "process_completed": _l("Process ended"),
    "field_revealed": _l("Number revealed"),
    "export_made": _l("Export made"),
    "notification_read": _l("Notification read"),
}


def label(table: dict[str, Any], code: str | None) -> str:
    """Return the display name of `code` in `table`, or the code itself (once a request)."""
    if code is None:
        return ""
    cache = g.setdefault("_labels", {})
    key = (id(table), code)
    if key not in cache:
        found = table.get(code)
        cache[key] = str(found) if found is not None else code
    return cache[key]


def template_globals() -> dict[str, Any]:
    """Return the label tables for templates."""
    return {"ROLE_LABELS": ROLES, "RISK_LABELS": RISKS, "CATEGORY_LABELS": CATEGORIES,
            "STATE_LABELS": STATES, "TASK_STATE_LABELS": TASK_STATES, "FLAG_LABELS": FLAGS,
            "EVENT_LABELS": EVENTS, "label": label}
