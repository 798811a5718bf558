"""The inbox: my tasks and claimable ones, filters, counts, overdue, paging, reassign."""

from __future__ import annotations

from sqlalchemy import select

from caseflow.db import db
from caseflow.models import AuditEvent, Case, TaskRow
from caseflow.services import timers
from tests.conftest import csrf_token, login
from tests.views import support


def test_inbox_lists_my_task_with_case_student_risk_and_due(client, world):
    login(client, "counselor1")
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "谈心谈话" in html and world.case.number in html and "张三" in html
    assert "risk-red" in html and "红色" in html
    assert '<span class="sr-only">1 项待办</span>' in html  # the count in the navigation
    assert client.get("/inbox").status_code == 200


def test_other_scopes_do_not_see_it(client, world):
    login(client, "counselor2")
    html = client.get("/").get_data(as_text=True)
    assert "谈心谈话" not in html and "暂无待办任务" in html


def test_overdue_marker_and_filter(client, world, travel):
    login(client, "counselor1")
    assert "已超时</span>" not in client.get("/").get_data(as_text=True)
    travel.by(hours=5)
    html = client.get("/").get_data(as_text=True)
    assert 'class="overdue">已超时' in html
    assert "谈心谈话" in client.get("/?overdue=1").get_data(as_text=True)


def test_filters_by_risk_and_sort(client, world):
    support.open_case(world.student1, counselor_id=world.counselor1.id, risk="yellow")
    login(client, "counselor1")
    assert client.get("/").get_data(as_text=True).count("谈心谈话</a>") == 2
    red = client.get("/?risk=red").get_data(as_text=True)
    assert red.count("谈心谈话</a>") == 1 and "risk-yellow" not in red
    assert client.get("/?sort=-due&risk=bogus&college=x").status_code == 200


def test_paging_keeps_the_filters(client, app, world):
    app.config["PAGE_SIZE"] = 1
    support.open_case(world.student1, counselor_id=world.counselor1.id)
    login(client, "counselor1")
    html = client.get("/?risk=red").get_data(as_text=True)
    assert "第 1 / 2 页" in html and "page=2" in html and "risk=red" in html


def test_student_affairs_sees_college_filter(client, world):
    login(client, "affairs")
    html = client.get("/").get_data(as_text=True)
    assert 'name="college"' in html and "信息工程学院" in html


def _refer(client) -> TaskRow:
    login(client, "counselor1")
    task = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(html), "refer": "on",
                                          "reached_how": "phone", "note": "转介",
                                          "talked_at": "2020-01-02T10:30"})
    return db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Accept"))


def test_officer_reassigns_a_counselor_step_with_a_reason(client, world):
    from tests.factories import user

    other = user("counselor9", "counselor", college=world.college1)
    db.session.commit()
    login(client, "officer1")
    task = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))
    inbox = client.get("/").get_data(as_text=True)
    assert f"/tasks/{task.id}/reassign" not in inbox  # not in the officer's own queue
    page = client.get(f"/tasks/{task.id}/reassign")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "counselor9（测试）" in html
    bad = client.post(f"/tasks/{task.id}/reassign", data={"csrf_token": csrf_token(html),
                                                         "to_user": str(other.id)})
    assert bad.status_code == 422 and "此项为必填项" in bad.get_data(as_text=True)
    ok = client.post(f"/tasks/{task.id}/reassign", data={
        "csrf_token": csrf_token(html), "to_user": str(other.id), "reason": "原辅导员休假"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).assignee_id == other.id
    assert db.session.get(Case, world.case.id).counselor_id == other.id
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == "case_reassigned"))
    assert "原辅导员休假" in event.detail


def test_affairs_reassigns_a_psych_step(client, world):
    from tests.factories import user

    accept = _refer(client)
    other = user("psych2", "psych_center")
    db.session.commit()
    login(client, "affairs")
    html = client.get(f"/tasks/{accept.id}/reassign").get_data(as_text=True)
    ok = client.post(f"/tasks/{accept.id}/reassign", data={
        "csrf_token": csrf_token(html), "to_user": str(other.id), "reason": "专人负责"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(TaskRow, accept.id).assignee_id == other.id
    assert db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.event_type == "task_reassigned")) is not None


def test_counselor_may_not_reassign(client, world):
    login(client, "counselor1")
    task = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))
    assert client.get(f"/tasks/{task.id}/reassign").status_code == 404


def test_escalation_reaches_the_notification_count(client, world, travel):
    accept = _refer(client)
    travel.by(hours=3)
    timers.fire_due()
    login(client, "officer1")
    html = client.get("/").get_data(as_text=True)
    assert '<span class="sr-only">1 条未读</span>' in html
    assert accept.id
