"""The API's endpoints: thin, each calls one service and shapes its answer."""

from __future__ import annotations

import json
from typing import Any

from caseflow import access, masking
from caseflow.api import schemas as s
from caseflow.api.forms import form_fields
from caseflow.api.support import (
    KEY_PARAMETER,
    actor,
    answering,
    api_key,
    bp,
    documented,
    idempotent,
)
from caseflow.api.support import principal as me
from caseflow.models import Case, PoliceWarning, TaskRow
from caseflow.services import Forbidden, casefile, caselist, idempotency, inbox, tasks, warnings
from caseflow.services import cases as case_service
from caseflow.views import present
from caseflow.web import select_locale


def _meta(page: int, per_page: int, total: int) -> dict[str, int]:
    return {"page": page, "per_page": per_page, "total": total,
            "pages": max((total + per_page - 1) // per_page, 1)}


# -- warnings ---------------------------------------------------------------------------

@bp.route("/warnings", methods=["POST"])
@bp.doc(parameters=[KEY_PARAMETER], summary="Enter a police warning (matched at once)")
@documented(403, 409, 422)
@idempotent
@bp.arguments(s.WarningIn)
@bp.response(201, s.WarningOut)
def create_warning(data: dict[str, Any]) -> PoliceWarning:
    """Enter a police warning; an exact match starts the dissuasion at once."""
    raw = s.WarningIn().dump(data)
    return warnings.add_warning(raw, me(), actor(), source="api",
                                before_commit=answering(_entered, s.WarningOut))


def _entered(warning: PoliceWarning) -> tuple[PoliceWarning, int]:
    return warning, 201


# -- registration --------------------------------------------------------------------------

@bp.route("/cases", methods=["POST"])
@bp.doc(parameters=[KEY_PARAMETER],
        summary="Register a finding: open a case (201) or join the open one (200)")
@documented(403, 404, 422)
@idempotent
@bp.arguments(s.RegistrationIn)
@bp.response(201, s.RegistrationOut, description="A new case was opened")
@bp.alt_response(200, schema=s.RegistrationOut,
                 description="The finding joined the student's open case")
def register(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Register a finding about a student (by id or student number)."""
    user = me()
    if not access.may_register(user):
        raise Forbidden("the token's roles may not register cases")
    number = data.get("student_no")
    student_id = (caselist.student_by_number(user, number).student.id if number
                  else data["student_id"])
    raw = s.RegistrationIn().dump(data)
    for name in ("student_id", "student_no"):
        raw.pop(name, None)
    return _registered(case_service.register(
        student_id, raw, user, actor(), source="api",
        before_commit=answering(_registered, s.RegistrationOut)))


def _registered(result: tuple[Case, bool]) -> tuple[dict[str, Any], int]:
    case, opened = result
    return {"opened": opened, "case": case}, 201 if opened else 200


# -- tasks ------------------------------------------------------------------------------------

def _task(row: TaskRow, number: str | None = None, student: str | None = None,
          overdue: bool = False) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "step": row.task_spec,
            "process_id": row.process_id, "state": row.state, "role": row.role,
            "case_id": row.case_id, "case_number": number, "student": student,
            "assignee_id": row.assignee_id, "due_at": row.due_at, "overdue": overdue,
            "completed_at": row.completed_at}


@bp.route("/tasks", methods=["GET"])
@bp.doc(summary="My open tasks (the token user's inbox, the token's roles)")
@documented()
@bp.arguments(s.PageQuery, location="query")
@bp.response(200, s.TaskList)
def my_tasks(query: dict[str, Any]) -> dict[str, Any]:
    """List the open tasks the token may work on, soonest due first."""
    page, per_page = query["page"], query["per_page"]
    rows, total = inbox.inbox(me(), inbox.InboxFilter(page=page), per_page)
    items = [_task(r.task, r.case_number, r.student, r.overdue) for r in rows]
    return {"items": items, "meta": _meta(page, per_page, total)}


@bp.route("/tasks/<int(max=2147483647):task_id>", methods=["GET"])
@bp.doc(summary="A task and its form: fields, types, required, choices, labels")
@documented(404)
@bp.response(200, s.TaskDetail)
def task(task_id: int) -> dict[str, Any]:
    """Return a task the token may work on (or completed), with its form's fields."""
    row = access.get_task(task_id, me(), access.READ, actor=actor())
    casefile.task_viewed(row, actor())
    return {**_task(row), "form": form_fields(row.process_id, row.task_spec)}


@bp.route("/tasks/<int(max=2147483647):task_id>/complete", methods=["POST"])
@bp.doc(parameters=[KEY_PARAMETER], summary="Complete a task with its form's data")
@documented(404, 409, 422)
@idempotent
@bp.arguments(s.CompleteIn)
@bp.response(200, s.CompleteOut)
def complete(body: dict[str, Any], task_id: int) -> dict[str, Any]:
    """Complete a task; 409 when it was completed (or changed) meanwhile."""
    user, key = me(), api_key()
    access.get_task(task_id, user, access.WORK, actor=actor())
    token = idempotency.submission_token(user.id, key) if key else None
    row = tasks.complete_task(task_id, body["data"], user, actor(), token=token,
                              before_commit=answering(_completed, s.CompleteOut))
    return _completed(row)[0]


def _completed(row: TaskRow) -> tuple[dict[str, Any], int]:
    return {"task": _task(row)}, 200


# -- cases ------------------------------------------------------------------------------------

def _row(row: caselist.CaseListRow) -> dict[str, Any]:
    case = row.case
    return {"id": case.id, "number": case.number, "state": case.state,
            "category": case.category, "risk_level": case.risk_level,
            "registered_at": case.registered_at, "student": row.student,
            "student_no": row.student_no, "college": row.college, "klass": row.klass}


@bp.route("/cases", methods=["GET"])
@bp.doc(summary="Cases the token may see, filtered, newest first, paginated")
@documented(403)
@bp.arguments(s.CaseQueryIn, location="query")
@bp.response(200, s.CaseList)
def cases(query: dict[str, Any]) -> dict[str, Any]:
    """List the cases the token's roles may see."""
    user = me()
    if not access.may_list_cases(user):
        raise Forbidden("the token's roles may not list cases")
    page, per_page = query["page"], query["per_page"]
    wanted = caselist.CaseQuery(q=query.get("q") or "", college_id=query.get("college"),
                                category=query.get("category"), risk=query.get("risk"),
                                state=query.get("status"), page=page)
    rows, total = caselist.search(user, wanted, per_page)
    return {"items": [_row(r) for r in rows], "meta": _meta(page, per_page, total)}


@bp.route("/cases/<int(max=2147483647):case_id>", methods=["GET"])
@bp.doc(summary="A case as the token's roles may see it (read audited)")
@documented(404)
@bp.arguments(s.LangQuery, location="query")
@bp.response(200, s.CaseDetail)
def case(_query: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Return a case file: confidential fields hidden, numbers masked; audited."""
    user = me()
    found = casefile.open_case(case_id, user, actor(), via="api")
    file = casefile.gather(found, user)
    sm, lang = file.summary, select_locale()
    secret_ok = access.sees_confidential(user)
    steps = [{**_task(t), "items": _items(present.step_items(
        t.process_id, t.task_spec, file.step_data.get(t.id) or {}, lang, secret_ok,
        file.people, file.notes.get(t.id)))} for t in file.done_tasks + file.open_tasks]
    findings = [{"created_at": f.created_at, "items": _items(present.registration_items(
        found.process_id, data, lang))} for f, data in sm.findings]
    return {
        "id": found.id, "number": found.number, "state": found.state,
        "category": found.category, "risk_level": found.risk_level,
        "registered_at": found.registered_at, "student": sm.student.name,
        "student_no": sm.student.student_no, "college": sm.college.name,
        "klass": sm.klass.name, "flags": _flags(found.flags),
        "counselor": sm.counselor.display_name if sm.counselor else None,
        "student_info": {"id": sm.student.id, "name": sm.student.name,
                         "student_no": sm.student.student_no,
                         "phone": masking.phone(sm.student.phone) or None,
                         "id_card": masking.id_card(sm.student.id_card) or None},
        "findings": findings, "steps": steps,
    }


def _items(items: list[present.Item]) -> list[dict[str, Any]]:
    return [{"label": i.label, "text": i.text, "kind": i.kind} for i in items]


def _flags(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
