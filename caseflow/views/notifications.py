"""My notifications: escalations, referrals and reports addressed to me."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from caseflow.services import NotFound
from caseflow.services import notifications as notice_service
from caseflow.views import actor, page_arg, page_size, pages, safe_next, text_arg

bp = Blueprint("notifications", __name__)


@bp.route("/notifications")
@login_required
def index() -> str:
    """List my notifications, newest first (unread only on request)."""
    unread_only = text_arg("show", ("unread",)) == "unread"
    page = page_arg()
    rows, total = notice_service.list_for(current_user, unread_only, page, page_size())
    tasks = notice_service.workable(current_user, [n.task_id for n, _ in rows if n.task_id])
    return render_template("notifications.html", rows=rows, total=total, page=page,
                           pages=pages(total), unread_only=unread_only, workable=tasks)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int) -> Response:
    """Mark one of my notifications read."""
    try:
        notice_service.mark_read(notification_id, current_user, actor())
    except NotFound:
        abort(404)
    return redirect(safe_next(url_for("notifications.index")))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def mark_all_read() -> Response:
    """Mark all my notifications read."""
    count = notice_service.mark_all_read(current_user, actor())
    flash(_("%(count)s notifications marked read.", count=count))
    return redirect(url_for("notifications.index"))
