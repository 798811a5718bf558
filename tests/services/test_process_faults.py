"""A deployed model that fails at a step: nothing is saved, the person is told, it is audited.

The broken model (conftest.py's `broken`) is the review test process with two mistakes an
administrator could make:
the gateway after "Check" turns the note into a number (so its error quotes the note), and
the escalation after "CheckLate" is a script whose loop never ends.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Klass,
    ScreeningClass,
    ScreeningEntry,
    TaskRow,
    TimerRow,
    WorkflowInstance,
)
from caseflow.services import ProcessFailed, health, setup, timers
from caseflow.services import tasks as task_service
from tests import factories
from tests.api.conftest import bearer
from tests.conftest import ROOT, csrf_token, login
from tests.services.conftest import ACTOR


def _failures() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "process_failed").order_by(AuditEvent.seq)))


def _unchanged(people) -> None:
    """The broken instance is where it was: same version, its step open, nothing completed."""
    db.session.expire_all()
    assert db.session.get(WorkflowInstance, people.broken.id).version == 1
    assert db.session.get(TaskRow, people.task.id).state == "ready"
    assert not db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "task_completed")).all()


def test_a_failing_step_saves_nothing_and_is_recorded(broken):
    with pytest.raises(ProcessFailed) as failed:
        task_service.complete_task(broken.task.id, {"needs_approval": True, "note": "已核实"},
                                   broken.counselor1, ACTOR)
    assert failed.value.element_id == "Decide" and "int(note) > 0" in failed.value.reason
    _unchanged(broken)
    [event] = _failures()
    detail = json.loads(event.detail)
    assert (event.result, event.task_id, detail["element"], detail["name"]) == (
        "error", broken.task.id, "Decide", "需要审批？")
    assert (detail["doing"], detail["error"], detail["where"]) == (
        "completing Check", "ValueError", "needs_approval == True and int(note) > 0")
    assert "已核实" in detail["reason"]  # the error quotes the note: audit trail only
    assert audit.verify(db.session).ok
    # the healthy version still works
    healthy = db.session.scalar(select(TaskRow).where(
        TaskRow.instance_id == broken.healthy.id))
    task_service.complete_task(healthy.id, {"needs_approval": True, "note": "好"},
                               broken.counselor1, ACTOR)
    assert db.session.get(TaskRow, healthy.id).state == "completed"


def test_the_task_screen_says_what_failed_and_keeps_the_input(client, broken):
    login(client, "counselor1")
    html = client.get(f"/tasks/{broken.task.id}").get_data(as_text=True)
    page = client.post(f"/tasks/{broken.task.id}", data={
        "csrf_token": csrf_token(html), "needs_approval": "true", "note": "学生已核实"})
    text = page.get_data(as_text=True)
    assert page.status_code == 500
    assert "此步之后流程无法继续" in text and "需要审批？" in text
    assert "本次未保存任何内容" in text and "学生已核实" in text  # the note is kept
    assert "Decide" in text and "int(note) &gt; 0" in text  # for the administrator
    _unchanged(broken)
    assert len(_failures()) == 1


def test_the_api_answers_500_process_failed_and_gives_the_key_back(client, broken):
    auth = {**bearer(broken.counselor1), "Idempotency-Key": "fault-1"}
    body = {"data": {"needs_approval": True, "note": "已核实"}}
    for _ in range(2):  # the key is given back: a retry runs again, and fails again
        answer = client.post(f"/api/v1/tasks/{broken.task.id}/complete", json=body,
                             headers=auth)
        assert answer.status_code == 500
        assert answer.get_json()["code"] == "process_failed"
        assert "Decide" in answer.get_json()["message"]
        assert "Idempotency-Replayed" not in answer.headers
    _unchanged(broken)
    assert len(_failures()) == 2


def test_the_worker_fires_the_others_and_retries_a_failed_model_hourly(broken, travel):
    travel.by(hours=3)  # both Check steps are late: their escalation timers are due
    assert timers.fire_due() == 1  # the healthy one; the broken one's script was stopped
    fired = db.session.scalar(select(TimerRow.state).where(
        TimerRow.instance_id == broken.healthy.id))
    held = db.session.scalar(select(TimerRow).where(TimerRow.instance_id == broken.broken.id))
    assert fired == "fired" and held.state == "waiting"
    assert held.lease_until.replace(tzinfo=None) >= (
        clock.now() + timedelta(minutes=59)).replace(tzinfo=None)
    [event] = _failures()
    detail = json.loads(event.detail)
    assert (detail["element"], detail["doing"]) == ("Escalate", "firing timers")
    assert "ran longer than 0.05 s" in detail["reason"]
    assert db.session.get(WorkflowInstance, broken.broken.id).version == 1
    travel.by(minutes=30)
    # a worker's round: it is seen alive, and does not try the broken model every round
    assert timers.run_worker(1.0, once=True) == 0 and len(_failures()) == 1
    [problem] = health.check().problems  # the escalation is overdue, and it says why
    assert "1 timers (escalations, waits) are overdue" in problem
    assert "1 of them wait for their process model to be fixed" in problem
    travel.by(minutes=31)
    assert timers.fire_due() == 0 and len(_failures()) == 2  # tried again after the hour


def test_a_sheet_whose_model_fails_is_refused_alone_in_a_batch(app):
    from caseflow.services import screening
    from caseflow.services import screening_batch as batch
    from tests.factories import screening_sheet as xlsx

    people = factories.deployed_org()
    model = (ROOT / "bpmn" / "class_screening.bpmn").read_text(encoding="utf-8")
    broken = model.replace(">len(followups) &gt; 0<",
                           ">len(followups) &gt; 0 and followups[0]['x']<")
    assert broken != model  # a class with follow-ups to plan fails at the gateway
    setup.deploy_sources({"class_screening.bpmn": broken.encode()}, "t")
    affairs = audit.Actor(people.affairs.id, "affairs", "student_affairs")
    screening.start_round(people.affairs, affairs)
    later = (clock.now() + timedelta(days=2)).date().isoformat()

    def upload(code, rows, user):
        return batch.Upload(code, xlsx(rows), user, audit.Actor(user.id, user.username))

    fine = upload("K2", [["2024000201", "李四", "谈话"]], people.counselor2)
    failing = upload("K1", [["2024000101", "张三", "未能联系", None, None, "重点关注",
                             "实习单位在外地", later]], people.counselor1)
    results = batch.import_many([fine, failing], chunk=2)
    assert results[0].entries == 1
    assert isinstance(results[1], ProcessFailed) and results[1].element_id == "any_followups"
    k1 = db.session.scalar(select(ScreeningClass).join(Klass).where(Klass.code == "K1"))
    assert k1.state == "open"  # nothing of the failed sheet was kept
    assert db.session.scalar(select(func.count(ScreeningEntry.id))) == 1
    [event] = _failures()
    assert event.task_id == k1.task_id and "K1" in json.loads(event.detail)["doing"]
    assert audit.verify(db.session).ok


def test_the_administrator_sees_what_failed_but_not_the_cases_data(client, broken, travel):
    with pytest.raises(ProcessFailed):
        task_service.complete_task(broken.task.id, {"needs_approval": True, "note": "张三说已转账"},
                                   broken.counselor1, ACTOR)
    travel.by(hours=3)
    timers.fire_due()  # the broken escalation: a held timer
    login(client, "admin")
    page = client.get("/admin/faults")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "流程故障" in html
    assert "需要审批？" in html and "Decide" in html and "ValueError" in html
    assert "int(note) &gt; 0" in html and "completing Check" in html
    assert "核查超时升级" in html and "ScriptTimeout" in html and "firing timers" in html
    assert "等待模型修复的到期计时器（升级或等待）：1 个" in html
    assert "张三说已转账" not in html  # the note the error quoted
    login(client, "counselor1")
    assert client.get("/admin/faults").status_code == 404


def test_filing_a_flagged_student_waits_for_a_fixed_case_model(app, travel):
    from caseflow.models import Case, ProcessVersion, ScreeningEntry
    from caseflow.services import screening, screening_import
    from tests.factories import screening_sheet as xlsx

    people = factories.deployed_org()
    healthy = (ROOT / "bpmn" / "fraud_case.bpmn").read_bytes()
    model = healthy.decode()
    broken = model.replace(">case_facts, to_start = dispatch_branches(case_facts)\n<",
                           ">case_facts, to_start = dispatch_branches(case_fact)\n<")
    assert broken != model  # every new case fails where the branches are planned
    tables = {name: (ROOT / "bpmn" / name).read_bytes()
              for name in ("fraud_case_triage.dmn", "fraud_case_flags.dmn")}
    setup.deploy_sources({"fraud_case.bpmn": broken.encode(), **tables}, "t")
    screening.start_round(people.affairs, audit.Actor(people.affairs.id, "affairs"))
    k3 = people.counselor3
    result = screening_import.import_sheet(
        "K3", xlsx([["2024000301", "王五", "标记", "涉诈隐患", "网络贷款/校园贷", "使用网贷"]]),
        k3, audit.Actor(k3.id, k3.username))
    assert result.entries == 1 and result.cases_opened == 0  # the sheet is in
    assert "dp_plan" in result.filing_error
    assert db.session.scalar(select(func.count(Case.id))) == 0  # no half-opened case
    assert len(_failures()) == 1
    # the worker's discovery job does not retry at every round, nor stop the worker
    timers.run_worker(0.01, once=True)
    assert len(_failures()) == 1
    # the administrator rolls the model back: the earlier files are current again
    first = db.session.scalar(select(func.min(ProcessVersion.id)).where(
        ProcessVersion.process_id == "fraud_case"))
    [line] = setup.deploy_sources({"fraud_case.bpmn": healthy, **tables}, "t")
    assert line.startswith(f"restored fraud_case (version {first},")
    travel.by(minutes=61)
    timers.run_worker(0.01, once=True)
    assert db.session.scalar(select(func.count(Case.id))) == 1
    entry = db.session.scalar(select(ScreeningEntry).where(ScreeningEntry.status == "flagged"))
    assert entry.case_id is not None and len(_failures()) == 1
