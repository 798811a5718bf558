"""The inbox: my open tasks and the claimable tasks of my roles and scope."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from caseflow import access, web
from caseflow.services import inbox as inbox_service
from caseflow.views import int_arg, page_arg, page_size, pages, text_arg
from caseflow.views.labels import RISKS as RISK_LABELS
from caseflow.views.labels import ROLES, label

bp = Blueprint("main", __name__)

TASK_ROLES = ("counselor", "college_officer", "psych_center", "security_office",
              "student_affairs")
RISKS = ("red", "orange", "yellow")


def _filter() -> inbox_service.InboxFilter:
    return inbox_service.InboxFilter(
        role=text_arg("role", TASK_ROLES), risk=text_arg("risk", RISKS),
        overdue=text_arg("overdue", ("1",)) == "1", process=text_arg("process"),
        college_id=int_arg("college"), class_id=int_arg("class"),
        newest_due_first=text_arg("sort", ("-due",)) == "-due", page=page_arg())


@bp.route("/inbox")
@bp.route("/")
@login_required
def home() -> str:
    """List my open tasks and the tasks I may claim, by due time, with filters."""
    f = _filter()
    rows, total = inbox_service.inbox(current_user, f, page_size())
    if not f.narrowed:
        web.know_open_tasks(total)
    colleges, classes = inbox_service.scope_places(current_user, f.college_id)
    held = access.roles(current_user)
    my_roles = [r for r in TASK_ROLES if r in held]
    reassign = {r.task.id for r in rows if access.may_reassign(current_user, r.task)}
    return render_template(
        "inbox.html", rows=rows, total=total, page=f.page, pages=pages(total), f=f,
        roles=[(r, label(ROLES, r)) for r in my_roles] if len(my_roles) > 1 else [],
        risks=[(r, label(RISK_LABELS, r)) for r in RISKS], processes=inbox_service.processes(),
        colleges=[(c.id, c.name) for c in colleges], classes=[(k.id, k.name) for k in classes],
        reassign=reassign, may_register=access.may_register(current_user))
