"""Notifications: mine only, unread/read, mark read with CSRF."""

from __future__ import annotations

from sqlalchemy import select

from caseflow.db import db
from caseflow.models import AuditEvent, Notification, TaskRow
from caseflow.services import timers
from tests.conftest import csrf_token, login


def _escalate(client, travel) -> None:
    login(client, "counselor1")
    task = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(html), "refer": "on",
                                          "reached_how": "phone", "note": "转介",
                                          "talked_at": "2020-01-02T10:30"})
    travel.by(hours=3)
    timers.fire_due()


def test_notifications_list_and_mark_read(client, world, travel):
    _escalate(client, travel)
    login(client, "officer1")
    page = client.get("/notifications")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and world.case.number in html and "未读" in html
    note = db.session.scalar(select(Notification).where(
        Notification.user_id == world.officer1.id))
    assert client.post(f"/notifications/{note.id}/read").status_code == 400  # no CSRF
    done = client.post(f"/notifications/{note.id}/read",
                       data={"csrf_token": csrf_token(html), "next": "/notifications"})
    assert done.status_code == 302 and done.headers["Location"] == "/notifications"
    db.session.expire_all()
    assert db.session.get(Notification, note.id).read_at is not None
    assert "暂无通知" in client.get("/notifications?show=unread").get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.event_type == "notification_read")) is not None


def test_someone_elses_notification_is_404(client, world, travel):
    _escalate(client, travel)
    note = db.session.scalar(select(Notification).where(
        Notification.user_id == world.officer1.id))
    login(client, "officer2")
    html = client.get("/notifications").get_data(as_text=True)
    assert world.case.number not in html
    assert client.post(f"/notifications/{note.id}/read",
                       data={"csrf_token": csrf_token(html)}).status_code == 404


def test_mark_all_read(client, world, travel):
    _escalate(client, travel)
    login(client, "affairs")  # the lead office by default
    html = client.get("/notifications").get_data(as_text=True)
    answer = client.post("/notifications/read-all", data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 302
    assert db.session.scalar(select(Notification.id).where(
        Notification.user_id == world.affairs.id, Notification.read_at.is_(None))) is None
