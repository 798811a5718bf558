"""Sign-in, the home page with tasks and cases, and the generic task form, via Flask's client."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow import audit
from caseflow.db import db
from caseflow.models import AuditEvent, TaskRow
from caseflow.services import runner, setup
from tests import factories
from tests.conftest import DATA, csrf_token, login


@pytest.fixture
def people(app, review_process):
    people = factories.org()
    setup.deploy_sources({"review_test.bpmn": (DATA / "review_test.bpmn").read_bytes()}, "test")
    runner.start_instance("review_test", {"level": "red"}, audit.SYSTEM)
    task = db.session.scalar(select(TaskRow))
    task.assignee_id = people.counselor1.id
    db.session.commit()
    return people


def test_wrong_password_says_nothing_about_which_part(client, people):
    page = login(client, "counselor1", "wrong-password!")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "用户名或密码错误" in html
    unknown = login(client, "nobody", "wrong-password!").get_data(as_text=True)
    assert "用户名或密码错误" in unknown
    kinds = db.session.scalars(select(AuditEvent.event_type)).all()
    assert kinds.count("login_failed") == 2


def test_home_needs_sign_in(client, people):
    assert client.get("/").status_code == 302


def test_counselor_sees_task_and_completes_it_after_an_error(client, people):
    assert login(client, "counselor1").status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "核查" in home and "我的待办" in home
    task = db.session.scalar(select(TaskRow))
    page = client.get(f"/tasks/{task.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="note"' in html
    bad = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(html),
                                                 "note": "", "needs_approval": "on"})
    assert bad.status_code == 422
    assert "请更正" in bad.get_data(as_text=True)
    good = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(html),
                                                  "note": "已核实", "needs_approval": "on"})
    assert good.status_code == 302
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).state == "completed"


def test_english_on_request(client, people):
    login(client, "counselor1")
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "My open tasks" in html
    assert "My open tasks" in client.get("/").get_data(as_text=True)  # remembered


def test_other_counselor_gets_404(client, people):
    login(client, "counselor2")
    task = db.session.scalar(select(TaskRow))
    assert client.get(f"/tasks/{task.id}").status_code == 404


def test_post_without_csrf_token_is_refused(client, people):
    login(client, "counselor1")
    task = db.session.scalar(select(TaskRow))
    resp = client.post(f"/tasks/{task.id}", data={"note": "x", "needs_approval": "on"})
    assert resp.status_code == 400
    assert db.session.get(TaskRow, task.id).state == "ready"
