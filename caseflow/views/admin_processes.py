"""The administrator's process versions: which version each process's cases run on, which
one new cases start on, and moving running cases to a fixed version (流程版本).

The same as `caseflow instances list | migrate` and a rollback deploy, for administrators
without a shell on the server. Case numbers and counts only: no case content (SPEC).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from caseflow.services import NotFound, migration
from caseflow.views import actor

# administrators only: the route gate's ADMIN rule (caseflow/access/routes.py)
bp = Blueprint("admin_processes", __name__, url_prefix="/admin/processes")


def _page(process_id: str | None = None, batch: migration.Batch | None = None,
          dry_run: bool = True) -> str:
    found = migration.versions()
    shown: dict[str, list[migration.VersionCount]] = {}
    for v in found:
        shown.setdefault(v.process_id, []).append(v)
    return render_template("admin/processes.html", processes=shown,
                           behind=migration.behind(found),
                           process_id=process_id, batch=batch, dry_run=dry_run)


@bp.get("")
def index() -> str:
    """List each process's deployed versions and the running instances on each."""
    return _page()


@bp.post("/<process_id>/check")
def check(process_id: str) -> str:
    """Say which running instances on older versions can move to the current one."""
    return _page(process_id, _batch(process_id, dry_run=True), dry_run=True)


@bp.post("/<process_id>/move")
def move(process_id: str) -> str:
    """Move the running instances on older versions that fit the current one."""
    batch = _batch(process_id, dry_run=False)
    moved = sum(1 for m in batch.moves if m.moved)
    flash(_("Moved %(moved)s of %(total)s instances; %(stayed)s stay on their version.",
            moved=moved, total=len(batch.moves), stayed=len(batch.moves) - moved))
    return _page(process_id, batch, dry_run=False)


def _batch(process_id: str, dry_run: bool) -> migration.Batch:
    """Move or check for a while (a page must answer in time), from where the last went."""
    after = request.form.get("after", default=0, type=int)
    try:
        return migration.move_batch(process_id, actor("admin"), dry_run=dry_run,
                                    after=max(after, 0), seconds=migration.WEB_SECONDS)
    except NotFound:
        abort(404)


@bp.post("/versions/<int:version_id>/current")
def make_current(version_id: int) -> Response:
    """Make new instances of the version's process start on it (audited as a deploy)."""
    try:
        line = migration.make_current(version_id, actor("admin"))
    except NotFound:
        abort(404)
    flash(line)
    return redirect(url_for(".index"))
