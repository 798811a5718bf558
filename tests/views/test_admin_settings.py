"""The admin screen of the school settings, through Flask's client."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from caseflow import settings
from caseflow.db import db
from caseflow.models import AuditEvent, Setting
from tests import factories
from tests.conftest import csrf_token, login

URL = "/admin/settings"


@pytest.fixture
def people(app):
    from caseflow.views import admin_settings

    if "admin_settings" not in app.blueprints:  # until caseflow.web registers it
        app.register_blueprint(admin_settings.bp)
    return factories.org()


@pytest.fixture
def admin(client, people):
    assert login(client, "admin").status_code == 302
    return client


def _post(client, key, **data):
    token = csrf_token(client.get(URL).get_data(as_text=True))
    return client.post(f"{URL}/{key}", data={"csrf_token": token, **data})


def _changes() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.event_type == "setting_changed"))


def test_admin_sees_grouped_settings_in_chinese(admin):
    page = admin.get(URL)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "学校设置" in html and "个案处置时限" in html and "统计周期" in html
    assert "谈心谈话" in html and "红色 4小时；橙色 24小时；黄色 72小时" in html
    assert "辅导员与学生谈话的时限" in html  # the meaning
    assert "从未修改" in html
    assert 'action="/admin/settings/due.talk"' in html and 'name="value_red"' in html
    assert '<label for="s-due-talk-reason">' in html
    assert "已分派的待办任务仍留在原处理部门" in html  # said before a lead-office change


def test_english_on_request(admin):
    html = admin.get(f"{URL}?lang=en").get_data(as_text=True)
    assert "School settings" in html and "Case due times" in html
    assert "Time for the counselor&#39;s talk with the student" in html
    assert "red 4 hours; orange 24 hours; yellow 72 hours" in html


def test_a_bad_value_is_shown_next_to_the_field_and_kept(admin):
    resp = _post(admin, "month_cutoff_day", value="31", reason="")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "未作修改" in html
    assert '<p class="msg" id="s-month_cutoff_day-msg">31：须为0（自然月）或1到28之间的日期' in html
    assert '<p class="msg" id="s-month_cutoff_day-reason-msg">请填写修改理由' in html
    assert 'value="31"' in html
    assert db.session.get(Setting, "month_cutoff_day") is None and _changes() == 0


def test_a_bad_level_keeps_every_typed_level(admin):
    resp = _post(admin, "due.talk", value_red="30min", value_orange="PT12H",
                 value_yellow="PT48H", reason="缩短时限")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "红色：“30min”不是 ISO 8601 时长" in html
    for typed in ('value="30min"', 'value="PT12H"', 'value="PT48H"', ">缩短时限</textarea>"):
        assert typed in html
    assert settings.get("due.talk")["red"] == "PT4H" and _changes() == 0


def test_error_then_success(admin, people):
    assert _post(admin, "month_cutoff_day", value="abc", reason="上报截止28日前").status_code == 422
    resp = _post(admin, "month_cutoff_day", value="27", reason="上报截止28日前")
    assert resp.status_code == 302 and resp.location.endswith("#s-month_cutoff_day")
    db.session.rollback()
    assert settings.get("month_cutoff_day") == 27
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "setting_changed"))
    assert json.loads(event.detail) == {"key": "month_cutoff_day", "old": 0, "new": 27,
                                        "reason": "上报截止28日前"}
    assert event.actor_id == people.admin.id and event.actor_role == "admin"
    html = admin.get(URL).get_data(as_text=True)
    assert "已保存：月度截止日 (month_cutoff_day): 自然月 → 每月27日" in html
    assert "admin（测试）" in html and "已改动，非默认值" in html


def test_changing_the_lead_office_repeats_that_open_tasks_stay(admin):
    resp = _post(admin, "lead_office", value="security_office", reason="按方案由保卫处牵头")
    assert resp.status_code == 302
    html = admin.get(URL).get_data(as_text=True)
    assert 'role="status">已分派的待办任务仍留在原处理部门' in html
    db.session.rollback()
    assert settings.lead_office_role() == "security_office"


def test_a_flat_due_time_has_one_field(admin):
    resp = _post(admin, "due.warning_reach", value="PT20M", reason="试行")
    assert resp.status_code == 302
    db.session.rollback()
    assert settings.get("due.warning_reach") == {"red": "PT20M", "orange": "PT20M",
                                                 "yellow": "PT20M"}


@pytest.mark.parametrize("username", ["counselor1", "officer1", "affairs", "leader", "security"])
def test_others_get_404(client, people, username):
    login(client, username)
    assert client.get(URL).status_code == 404
    token = csrf_token(client.get("/login").get_data(as_text=True))  # the session's token
    resp = client.post(f"{URL}/lead_office", data={"csrf_token": token,
                                                   "value": "security_office", "reason": "x"})
    assert resp.status_code == 404
    assert settings.lead_office_role() == "student_affairs" and _changes() == 0


def test_sign_in_first_and_csrf_and_unknown_keys(client, people):
    assert client.get(URL).status_code == 302
    login(client, "admin")
    assert client.post(f"{URL}/lead_office", data={"value": "security_office",
                                                   "reason": "x"}).status_code == 400
    assert _post(client, "due.nap", value="PT1H", reason="x").status_code == 404
    assert _changes() == 0
