"""The fraud_case process through caseflow's services, on a real database."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Case,
    ConfidentialNote,
    Finding,
    TaskRow,
    WorkflowInstance,
)
from caseflow.services import ValidationFailed, cases, timers
from caseflow.services import tasks as task_service
from tests import factories


@pytest.fixture
def world(app):
    return factories.deployed_org()


actor = factories.actor


def victim(**extra):
    now = clock.now()
    return {"discovery_source": "self_report", "category": "victim",
            "fraud_type": "order_brushing", "what_happened": "刷单被骗",
            "happened_at": (now - timedelta(hours=3)).isoformat(),
            "loss_cny": "8000.00", "money_source": "living_expenses",
            "last_transfer_at": (now - timedelta(hours=2)).isoformat(), "ongoing": "no",
            **extra}


def open_steps(case):
    return sorted((t.task_spec, t.role) for t in db.session.scalars(
        select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready")))


def complete(case, step, user, **data):
    row = db.session.scalar(select(TaskRow).where(
        TaskRow.case_id == case.id, TaskRow.task_spec == step, TaskRow.state == "ready"))
    if row.assignee_id is None:
        task_service.claim(row.id, user, actor(user))
    return task_service.complete_task(row.id, data, user, actor(user))


def test_registration_mirrors_triage_on_the_case_row_and_opens_tasks(world):
    case, new = cases.register(world.student1.id, victim(), world.counselor1,
                               actor(world.counselor1))
    assert new and case.number.startswith("AF")
    assert (case.category, case.risk_level, case.state) == ("victim", "red", "open")
    assert case.loss_cny == Decimal("8000.00")
    flags = json.loads(case.flags)
    assert flags["need_stop_payment"] and flags["need_police"] and not flags["major"]
    assert open_steps(case) == [("stop_payment", "security_office"), ("talk", "counselor"),
                                ("triage_review", "college_officer")]
    talk = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "talk"))
    assert talk.assignee_id == world.counselor1.id  # the class's counselor
    kinds = set(db.session.scalars(select(AuditEvent.event_type)))
    assert {"case_opened", "decision_made", "gateway_passed", "task_opened"} <= kinds


def test_at_risk_with_a_loss_is_refused_and_nothing_is_created(world):
    with pytest.raises(ValidationFailed) as err:
        cases.register(world.student1.id, victim(category="at_risk", fraud_type="fake_job"),
                       world.counselor1, actor(world.counselor1))
    assert err.value.errors["loss_cny"] == ["a loss makes the student a victim"]
    assert db.session.scalar(select(func.count(Case.id))) == 0
    assert db.session.scalar(select(func.count(WorkflowInstance.id))) == 0


def test_a_second_finding_is_attached_to_the_open_case(world):
    case, _ = cases.register(world.student1.id, victim(), world.counselor1,
                             actor(world.counselor1))
    again, new = cases.register(world.student1.id, victim(loss_cny="1500.00"),
                                world.security, actor(world.security))
    assert not new and again.id == case.id
    assert db.session.scalar(select(func.count(Case.id))) == 1
    assert db.session.scalar(select(func.count(Finding.id))) == 2
    assert db.session.get(Case, case.id).loss_cny == Decimal("9500.00")  # losses add up
    attached = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == "finding_attached"))
    assert attached.case_id == case.id and attached.actor == "security"
    assert audit.verify(db.session).ok


def test_stop_payment_escalates_to_lead_office_and_leaders_and_stays_open(world, travel):
    from caseflow.models import Notification

    case, _ = cases.register(world.student1.id, victim(), world.counselor1,
                             actor(world.counselor1))
    travel.by(minutes=31)
    assert timers.fire_due() >= 1
    notes = db.session.scalars(select(Notification).where(Notification.case_id == case.id))
    assert {n.role for n in notes} >= {"student_affairs", "leader"}
    assert ("stop_payment", "security_office") in open_steps(case)


def test_withdrawing_an_at_risk_case_cancels_every_task_and_deletes_nothing(world):
    case, _ = cases.register(world.student1.id, victim(
        category="at_risk", fraud_type="fake_job", loss_cny="0", last_transfer_at=None),
        world.counselor1, actor(world.counselor1))
    before = db.session.scalar(select(func.count(TaskRow.id)))
    cases.withdraw(case.id, "误报", world.officer1, actor(world.officer1))
    case = db.session.get(Case, case.id)
    assert (case.state, case.withdrawn) == ("withdrawn", True)
    assert open_steps(case) == []
    assert db.session.scalar(select(func.count(TaskRow.id))) == before
    assert audit.verify(db.session).ok


def test_session_notes_never_reach_workflow_data_or_the_audit_trail(world):
    case, _ = cases.register(world.student1.id, victim(), world.counselor1,
                             actor(world.counselor1))
    now = clock.now()
    complete(case, "talk", world.counselor1, reached_how="in_person", talked_at=now.isoformat(),
             ongoing="no", what_happened="已停止联系", mood="worried")
    complete(case, "psych_accept", world.psych, accept="accept",
             first_session_at=(now + timedelta(days=1)).isoformat())
    clock.advance(timedelta(days=1, minutes=1))
    secret = "学生提到家庭矛盾（绝密）"
    complete(case, "counseling_session", world.psych, session_at=clock.now().isoformat(),
             notes=secret, risk_assessment="medium", more_sessions=False)
    note = db.session.scalar(select(ConfidentialNote))
    assert note.text == secret and note.owner_role == "psych_center"
    instance = db.session.scalar(select(WorkflowInstance))
    assert secret not in instance.state
    assert not db.session.scalar(select(func.count(AuditEvent.id))
                                 .where(AuditEvent.detail.contains(secret)))
    done = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == "task_completed").order_by(AuditEvent.seq.desc()))
    assert json.loads(done.detail)["data"]["notes"]["written"] is True
