"""IDOR: objects of another class (or an unreferred case) answer 404 and are audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow import access
from caseflow.db import db
from caseflow.models import AuditEvent, TaskRow
from caseflow.services import NotFound
from tests.security.conftest import events, signin, token

TALK = {"reached_how": "phone", "talked_at": "2024-03-01T10:00", "note": "越权完成"}


def _probe(client, w, case, task, student):
    csrf = token(client)
    return [
        ("GET", f"/cases/{case.id}", None),
        ("GET", f"/cases/{case.id}/history", None),
        ("GET", f"/tasks/{task.id}", None),
        ("POST", f"/tasks/{task.id}", {"csrf_token": csrf, "action": "complete", **TALK}),
        ("POST", f"/tasks/{task.id}", {"csrf_token": csrf, "action": "draft", **TALK}),
        ("POST", f"/tasks/{task.id}/claim", {"csrf_token": csrf}),
        ("GET", f"/reports/cases/{case.id}/history.xlsx", None),
        ("GET", f"/cases/{case.id}/reveal?field=phone", None),
        ("POST", f"/cases/{case.id}/reveal?field=phone",
         {"csrf_token": csrf, "purpose": "我想看看这个号码"}),
        ("GET", f"/cases/{case.id}/reveal?field=id_card", None),
        ("GET", f"/students/{student.id}", None),
        ("GET", f"/students/{student.id}/reveal?field=phone", None),
    ]


def _assert_refused(client, probes):
    before = len(events("access_denied"))
    for method, path, data in probes:
        answer = client.open(path, method=method, data=data)
        assert answer.status_code == 404, f"{method} {path}: {answer.status_code}"
        assert "13800000000" not in answer.get_data(as_text=True)
    denied = events("access_denied")
    assert len(denied) - before == len(probes)
    return denied[before:]


def test_counselor_of_class_a_gets_404_for_everything_of_class_b(client, w):
    signin(client, "counselor1")
    holder = w.talk_b.assignee_id
    denied = _assert_refused(client, _probe(client, w, w.b, w.talk_b, w.student2))
    assert all(ev.actor == "counselor1" and ev.result == "refused" for ev in denied)
    # the refusals about case B are in case B's history, for its leaders to see
    assert {ev.case_id for ev in denied if '"case"' in ev.detail} == {w.b.id}
    db.session.expire_all()
    task = db.session.get(TaskRow, w.talk_b.id)
    assert task.state == "ready" and task.assignee_id == holder  # not completed, not claimed


def test_psych_centre_gets_404_for_an_unreferred_case(client, w):
    signin(client, "psych")
    _assert_refused(client, _probe(client, w, w.b, w.talk_b, w.student2))


def test_the_one_door_refuses_and_audits_every_need(app, w):
    for need in (access.READ, access.EXPORT, access.WITHDRAW, "reveal:phone"):
        with pytest.raises(NotFound):
            access.get_case(w.b.id, w.counselor1, need)
    with pytest.raises(NotFound):
        access.get_task(w.talk_b.id, w.counselor1)
    with pytest.raises(NotFound):
        access.get_student(w.student2.id, w.counselor1)
    with pytest.raises(NotFound):
        access.get_case(999999, w.leader)  # a missing case answers exactly the same
    needs = [ev.detail for ev in events("access_denied")]
    assert len(needs) == 7 and '"need":"export"' in needs[1]
    assert access.get_case(w.a.id, w.counselor1, access.EXPORT) is w.a
    assert access.get_task(w.counselor_task.id, w.counselor1) is w.counselor_task


def test_leaders_are_read_only_and_admins_see_no_case(app, w):
    assert access.may_see_case(w.leader, w.b)
    assert not access.may(w.leader, access.WORK, w.talk_b)
    assert not access.may(w.leader, access.WITHDRAW, w.b)
    assert not access.may_register(w.leader)
    assert not access.may_see_case(w.admin, w.a)
    assert not access.may_list_cases(w.admin)
    ids = db.session.scalars(select(AuditEvent.id).where(AuditEvent.case_id == w.a.id)).all()
    assert ids  # case A has a history the leader can read


def test_security_office_sees_flagged_cases_and_warnings_only(app, w):
    assert access.may_see_case(w.security, w.a)  # flagged for the police, and holds a task
    assert not access.may_see_case(w.security, w.b)
    w.b.flags = '{"need_stop_payment": true}'
    db.session.commit()
    assert access.may_see_case(w.security, w.b)
    assert access.may_see_warnings(w.security) and not access.may_see_warnings(w.counselor1)
