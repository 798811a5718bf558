"""Real users clicking in Chromium: complete a task, accept a referral, read a case file,
and lose a race for the same task without losing what was typed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow import audit
from caseflow.db import db
from caseflow.models import TaskRow
from caseflow.services import tasks as task_service
from tests.factories import PASSWORD

pytestmark = pytest.mark.usefixtures("world")


def sign_in(page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/$"))


def _talk() -> TaskRow:
    return db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))


def _refer(world) -> None:
    """counselor1 completes the talk and refers the student to the psych centre."""
    task = _talk()
    task_service.complete_task(task.id, {"reached_how": "phone", "note": "需要心理支持",
                                         "talked_at": "2024-01-02T10:30:00+08:00",
                                         "refer": True},
                               world.counselor1, audit.Actor(world.counselor1.id, "counselor1"))


def test_counselor_completes_a_task_after_fixing_an_error(new_page, world):
    page = new_page()
    sign_in(page, "counselor1")
    page.get_by_role("link", name="谈心谈话").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    page.get_by_label("事情经过").fill("学生参与兼职刷单，已被骗 3000 元")
    page.get_by_role("button", name="提交完成").click()
    alert = page.locator("#error-summary")
    assert "请更正下方标出的字段" in alert.inner_text()
    assert "此项为必填项" in page.locator("#f-reached_how-msg").inner_text()
    assert page.get_by_label("事情经过").input_value() == "学生参与兼职刷单，已被骗 3000 元"
    page.get_by_label("当面").check()
    page.get_by_label("谈话时间").fill("2024-01-02T10:30")
    page.get_by_role("button", name="提交完成").click()
    page.wait_for_url(re.compile(r"/$"))
    assert "任务已完成" in page.locator(".flash").inner_text()
    db.session.expire_all()
    assert _talk().state == "completed"


def test_psych_centre_accepts_a_referral(new_page, world):
    _refer(world)
    page = new_page()
    sign_in(page, "psych")
    row = page.locator("tr", has_text="接收转介")
    row.get_by_role("button", name=re.compile("认领")).click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    assert "您已认领该任务" in page.locator(".flash").inner_text()
    page.get_by_label("接收", exact=True).check()
    page.get_by_role("button", name="提交完成").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    assert page.get_by_role("heading", name="心理咨询").is_visible()
    assert page.locator(".field.confidential").count() == 1


def test_leader_reads_the_timeline_and_the_diagram(new_page, world):
    _refer(world)
    page = new_page()
    sign_in(page, "leader")
    page.get_by_role("link", name="案件", exact=True).click()
    page.get_by_role("link", name=world.case.number).click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    history = page.locator("ol.timeline")
    assert "环节完成" in history.inner_text() and "谈心谈话" in history.inner_text()
    diagram = page.locator(".diagram svg")
    assert diagram.is_visible()
    assert diagram.locator('[data-element-id="Talk"]').first.get_attribute("class") \
        and "completed" in diagram.locator('[data-element-id="Talk"]').first.get_attribute(
            "class")
    page.get_by_label("记录类型").select_option("task_opened")
    page.get_by_role("button", name="显示").click()
    assert "环节完成" not in page.locator("ol.timeline").inner_text()


def test_second_browser_sees_already_completed_and_keeps_input(new_page, world):
    first, second = new_page(), new_page(phone=True)
    sign_in(first, "counselor1")
    sign_in(second, "counselor1")
    task = _talk()
    for page in (first, second):
        page.goto(f"/tasks/{task.id}")
        page.get_by_label("电话").check()
        page.get_by_label("谈话时间").fill("2024-01-02T10:30")
    first.get_by_label("事情经过").fill("第一位提交的内容")
    second.get_by_label("事情经过").fill("第二位写的长段记录，不能丢")
    first.get_by_role("button", name="提交完成").click()
    first.wait_for_url(re.compile(r"/$"))
    second.get_by_role("button", name="提交完成").click()
    conflict = second.locator("#conflict")
    assert "该任务已由 counselor1（测试） 于" in conflict.inner_text()
    kept = second.locator(".kept textarea")
    assert "第二位写的长段记录，不能丢" in [kept.nth(i).input_value()
                                          for i in range(kept.count())]


def test_student_page_for_own_class_other_class_and_leader(new_page, world):
    own = new_page()
    sign_in(own, "counselor1")
    own.goto(f"/students/{world.student1.id}")
    assert world.student1.name in own.locator("h1").inner_text()
    assert world.case.number in own.locator("#h-cases + table").inner_text()
    other = new_page()
    sign_in(other, "counselor2")
    response = other.goto(f"/students/{world.student1.id}")
    assert response.status == 404
    leader = new_page()
    sign_in(leader, "leader")
    leader.goto(f"/students/{world.student1.id}")
    assert "重点人员档案" in leader.locator("h1").inner_text()
