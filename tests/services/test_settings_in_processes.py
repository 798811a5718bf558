"""School settings reach the processes: due times for newly opened tasks, the lead office."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow import clock
from caseflow.db import db
from caseflow.models import Notification, TaskRow
from caseflow.services import cases, settings_admin, timers
from tests import factories


@pytest.fixture
def world(app):
    return factories.deployed_org()


actor = factories.actor


def register(world, student):
    now = clock.now()
    case, _ = cases.register(student.id, {
        "discovery_source": "self_report", "category": "victim", "fraud_type": "fake_job",
        "what_happened": "兼职刷单", "loss_cny": "500.00", "money_source": "living_expenses",
        "last_transfer_at": (now - timedelta(hours=2)).isoformat(), "ongoing": "no"},
        world.counselor1, actor(world.counselor1))
    return case


def task(case, step):
    return db.session.scalar(select(TaskRow).where(TaskRow.case_id == case.id,
                                                   TaskRow.task_spec == step))


def test_a_changed_due_time_reaches_new_tasks_and_not_open_ones(world):
    first = register(world, world.student1)
    before = task(first, "stop_payment")
    assert before.due_at - before.created_at == timedelta(minutes=30)
    assert before.due_source == "setting due.stop_payment = PT30M"
    settings_admin.change("due.stop_payment", "PT20M", "区公安要求更快止付",
                          actor(world.admin), world.admin.id)
    second = register(world, factories.student("2024000102", "赵六", world.class1))
    after = task(second, "stop_payment")
    assert after.due_at - after.created_at == timedelta(minutes=20)
    assert after.due_source == "setting due.stop_payment = PT20M"
    db.session.refresh(before)
    assert before.due_at - before.created_at == timedelta(minutes=30)  # unchanged
    # and its timer keeps the due time it had when it started waiting
    clock.advance(timedelta(minutes=25))
    timers.fire_due()
    assert not db.session.scalar(select(Notification.id).where(
        Notification.case_id == first.id, Notification.kind == "escalation_raised",
        Notification.step.like("%止付%")))


def test_changing_the_lead_office_sends_the_next_escalation_to_the_new_role(world):
    case = register(world, world.student1)
    assert task(case, "stop_payment").role == "security_office"
    settings_admin.change("lead_office", "security_office", "方案规定保卫处牵头",
                          actor(world.admin), world.admin.id)
    clock.advance(timedelta(minutes=31))
    timers.fire_due()
    roles = {n.role for n in db.session.scalars(select(Notification).where(
        Notification.case_id == case.id))}
    assert "security_office" in roles and "student_affairs" not in roles
    assert "leader" in roles
