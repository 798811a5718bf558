"""Instances, task and timer rows, completion, escalations and the audit trail, on a real DB."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Notification,
    TaskRow,
    TimerRow,
    WorkflowInstance,
)
from caseflow.services import Conflict, NotFound, ValidationFailed, runner, setup, timers
from caseflow.services import tasks as task_service
from tests import factories
from tests.conftest import DATA

ACTOR = audit.Actor(None, "test")


@pytest.fixture
def started(app, review_process):
    people = factories.org()
    setup.deploy_sources({"review_test.bpmn": (DATA / "review_test.bpmn").read_bytes()}, "test")
    outcome = runner.start_instance("review_test", {"level": "red"}, ACTOR)
    db.session.commit()
    return people, outcome.instance


def _events() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.event_type).order_by(AuditEvent.seq)))


def test_start_writes_task_and_timer_rows(started):
    people, instance = started
    [task] = db.session.scalars(select(TaskRow)).all()
    assert (task.task_spec, task.name, task.role, task.state) == ("Check", "核查", "counselor",
                                                                   "ready")
    assert task.due_source == "check_due = PT2H"  # no TASK_KEYS in the test process
    [timer] = db.session.scalars(select(TimerRow)).all()
    assert timer.event_id == "CheckLate" and timer.state == "waiting"
    assert timer.due_at == task.due_at
    assert instance.version == 1 and "spec" not in instance.state[:200]


def test_completing_a_task_moves_the_process_and_records_everything(started):
    people, instance = started
    [task] = db.session.scalars(select(TaskRow)).all()
    task.assignee_id = people.counselor1.id
    db.session.commit()
    task_service.complete_task(task.id, {"needs_approval": "true", "note": "已核实"},
                               people.counselor1, ACTOR)
    db.session.refresh(instance)
    assert instance.version == 2
    rows = {r.task_spec: r.state for r in db.session.scalars(select(TaskRow))}
    assert rows == {"Check": "completed", "Approve": "ready"}
    approve = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Approve"))
    assert approve.role == "college_officer"
    # the boundary timer of the completed task is gone
    assert db.session.scalar(select(TimerRow.state)) == "cancelled"
    assert _events()[-4:] == ["task_opened", "gateway_passed", "task_opened", "task_completed"][
        -4:] or "task_completed" in _events()
    completed = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == "task_completed"))
    assert '"note":"已核实"' in completed.detail


def test_second_completion_is_refused_and_changes_nothing(started):
    people, _ = started
    [task] = db.session.scalars(select(TaskRow)).all()
    task.assignee_id = people.counselor1.id
    db.session.commit()
    task_service.complete_task(task.id, {"needs_approval": False, "note": "一"},
                               people.counselor1, ACTOR)
    before = db.session.scalar(select(func.count(AuditEvent.id)))
    with pytest.raises(Conflict) as err:
        task_service.complete_task(task.id, {"needs_approval": False, "note": "二"},
                                   people.counselor1, ACTOR)
    assert "already completed" in str(err.value)
    assert err.value.info["by"] == people.counselor1.display_name
    assert db.session.scalar(select(func.count(AuditEvent.id))) == before


def test_stale_instance_version_is_refused(started, monkeypatch):
    people, instance = started
    [task] = db.session.scalars(select(TaskRow)).all()
    task.assignee_id = people.counselor1.id
    db.session.commit()
    real_load = runner.load

    def load_then_lose_the_race(inst):
        run = real_load(inst)
        with db.engine.connect() as other:  # another app process writes first
            other.execute(WorkflowInstance.__table__.update()
                          .values(version=WorkflowInstance.version + 1))
            other.commit()
        return run

    monkeypatch.setattr(runner, "load", load_then_lose_the_race)
    with pytest.raises(Conflict, match="same time"):
        task_service.complete_task(task.id, {"needs_approval": False, "note": "x"},
                                   people.counselor1, ACTOR)
    assert db.session.get(TaskRow, task.id).state == "ready"
    assert "task_completed" not in _events()


def test_bad_form_data_names_the_fields_and_changes_nothing(started):
    people, instance = started
    [task] = db.session.scalars(select(TaskRow)).all()
    task.assignee_id = people.counselor1.id
    db.session.commit()
    before = (db.session.scalar(select(func.count(AuditEvent.id))), instance.version)
    with pytest.raises(ValidationFailed) as err:
        task_service.complete_task(task.id, {"needs_approval": "perhaps"},
                                   people.counselor1, ACTOR)
    assert set(err.value.errors) == {"needs_approval", "note"}
    db.session.refresh(instance)
    assert (db.session.scalar(select(func.count(AuditEvent.id))), instance.version) == before
    assert db.session.get(TaskRow, task.id).state == "ready"


def test_someone_out_of_scope_cannot_see_the_task(started):
    people, _ = started
    [task] = db.session.scalars(select(TaskRow)).all()
    task.assignee_id = people.counselor1.id
    db.session.commit()
    with pytest.raises(NotFound):
        task_service.complete_task(task.id, {"needs_approval": False, "note": "x"},
                                   people.counselor2, ACTOR)


def test_overdue_timer_fires_once_and_notifies(started, travel):
    people, instance = started
    assert timers.fire_due() == 0
    travel.by(hours=2, minutes=1)
    assert timers.fire_due() == 1
    assert timers.fire_due() == 0  # exactly once
    notes = db.session.scalars(select(Notification).order_by(Notification.user_id)).all()
    # college officers (no case here: every officer) and the lead office (student affairs)
    assert {n.role for n in notes} == {"college_officer", "student_affairs"}
    assert all("核查" in n.text and n.due_at is not None for n in notes)
    task = db.session.scalar(select(TaskRow))
    assert task.state == "ready" and task.escalated_at is not None
    fired = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "timer_fired"))
    assert fired.actor == "system"
    assert "escalation_raised" in _events()


def test_unknown_process_is_refused(app):
    with pytest.raises(NotFound, match="not deployed"):
        runner.start_instance("no_such_process", {}, ACTOR)
    assert db.session.scalar(select(func.count(WorkflowInstance.id))) == 0


def test_audit_chain_verifies_after_a_run(started, travel):
    people, _ = started
    travel.by(hours=3)
    timers.fire_due()
    result = audit.verify(db.session)
    assert result.ok and result.checked == len(_events())
    assert clock.now() > people.counselor1.created_at
