"""Moving running cases onto a fixed process version (`caseflow instances migrate`)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import AuditEvent, ProcessVersion, TaskRow, TimerRow, WorkflowInstance
from caseflow.services import NotFound, ProcessFailed, cases, migration, runner, setup, timers
from caseflow.services import tasks as task_service
from tests import factories
from tests.conftest import DATA, ROOT, login
from tests.production.support import rows_match_state
from tests.production.test_worker import _env
from tests.services.conftest import ACTOR
from tests.services.test_fraud_case_app import complete, victim

GOOD = (DATA / "review_test.bpmn").read_bytes()


def _snapshot(instance_id: int) -> dict:
    """The instance's open step and waiting timer as people and the worker see them."""
    db.session.expire_all()
    task = db.session.scalar(select(TaskRow).where(TaskRow.instance_id == instance_id,
                                                   TaskRow.state == "ready"))
    timer = db.session.scalar(select(TimerRow).where(TimerRow.instance_id == instance_id,
                                                     TimerRow.state == "waiting"))
    return {"task": (task.id, task.spiff_task_id, task.assignee_id, task.due_at),
            "timer": (timer.id, timer.spiff_task_id, timer.due_at)}


def _migrated_events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "process_migrated").order_by(AuditEvent.seq)))


def test_a_case_stuck_on_a_broken_version_moves_to_the_fixed_one_and_goes_on(broken, travel):
    with pytest.raises(ProcessFailed):  # the broken gateway: the step cannot be taken
        task_service.complete_task(broken.task.id, {"needs_approval": True, "note": "已核实"},
                                   broken.counselor1, ACTOR)
    travel.by(hours=3)
    assert timers.fire_due() == 1  # the healthy instance's; the broken escalation is held
    before = _snapshot(broken.broken.id)
    stuck, healthy = broken.broken.process_version_id, broken.healthy.process_version_id
    [line] = setup.deploy_sources({"review_test.bpmn": GOOD}, "t")  # roll back
    assert line.startswith(f"restored review_test (version {healthy}")

    [moved] = migration.move("review_test", ACTOR)
    assert (moved.instance_id, moved.moved, moved.blockers) == (broken.broken.id, True, [])
    assert moved.changed == ["Decide", "Escalate"]
    assert (moved.from_version, moved.to_version) == (stuck, healthy)
    instance = db.session.get(WorkflowInstance, broken.broken.id, populate_existing=True)
    assert (instance.process_version_id, instance.version) == (healthy, 2)
    assert _snapshot(broken.broken.id) == before  # same step, assignee, due time and timer
    assert db.session.get(TaskRow, broken.task.id).process_version_id == healthy
    [event] = _migrated_events()
    detail = json.loads(event.detail)
    assert (detail["from_version"], detail["to_version"], detail["changed"]) == (
        moved.from_version, moved.to_version, ["Decide", "Escalate"])
    assert detail["timers_released"] == 1 and event.actor == "test"
    # the held escalation fires at the next round, as the fixed model has it
    assert timers.fire_due() == 1
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == "escalation_raised")) == 2  # the healthy one's and this
    # and the step the broken model refused now goes through
    task_service.complete_task(broken.task.id, {"needs_approval": True, "note": "已核实"},
                               broken.counselor1, ACTOR)
    rows_match_state(broken.broken.id)
    assert db.session.scalar(select(TaskRow.task_spec).where(
        TaskRow.instance_id == broken.broken.id, TaskRow.state == "ready")) == "Approve"
    assert migration.move("review_test", ACTOR) == []  # nothing is left to move
    assert audit.verify(db.session).ok


def test_a_dry_run_says_what_would_move_and_changes_nothing(broken):
    setup.deploy_sources({"review_test.bpmn": GOOD}, "t")
    state = db.session.get(WorkflowInstance, broken.broken.id).state
    [would] = migration.move("review_test", ACTOR, dry_run=True)
    assert would.possible and not would.moved and would.changed == ["Decide", "Escalate"]
    instance = db.session.get(WorkflowInstance, broken.broken.id, populate_existing=True)
    assert (instance.version, instance.state) == (1, state)
    assert _migrated_events() == []


def _rewired(text: str) -> bytes:
    """The review model without its Approve step (the gateway ends the process instead)."""
    text = text.replace('<bpmn:flowNodeRef>Approve</bpmn:flowNodeRef>', '')
    text = re.sub(r'<bpmn:userTask id="Approve".*?</bpmn:userTask>', '', text, flags=re.S)
    text = text.replace('<bpmn:sequenceFlow id="F7" sourceRef="Approve" targetRef="EndApproved" />',
                        '')
    text = text.replace('<bpmn:incoming>F7</bpmn:incoming>', '<bpmn:incoming>F5</bpmn:incoming>')
    text = text.replace('sourceRef="Decide" targetRef="Approve"',
                        'sourceRef="Decide" targetRef="EndApproved"')
    assert '"Approve"' not in re.sub(r"<bpmndi:.*", "", text, flags=re.S)
    return text.encode()


def test_an_instance_whose_open_or_next_steps_were_removed_stays_and_says_why(broken):
    setup.deploy_sources({"review_test.bpmn": _rewired(GOOD.decode())}, "t")
    state = db.session.get(WorkflowInstance, broken.healthy.id).state
    moves = migration.move("review_test", ACTOR)
    assert [m.instance_id for m in moves] == [broken.healthy.id, broken.broken.id]
    for m in moves:
        assert not m.possible and not m.moved
        assert "the step «审批» (Approve) is no longer in the new version" in m.blockers
    instance = db.session.get(WorkflowInstance, broken.healthy.id, populate_existing=True)
    assert (instance.version, instance.state) == (1, state)
    assert _migrated_events() == []


def test_rewiring_the_open_step_is_refused(broken):
    # a script step inserted after Check: Check's outgoing flow now leads somewhere else
    text = GOOD.decode().replace(
        '<bpmn:sequenceFlow id="F3" sourceRef="Check" targetRef="Decide" />',
        '<bpmn:sequenceFlow id="F3" sourceRef="Check" targetRef="Confirm" />'
        '<bpmn:scriptTask id="Confirm" name="确认"><bpmn:incoming>F3</bpmn:incoming>'
        '<bpmn:outgoing>F3b</bpmn:outgoing><bpmn:script>confirmed = True</bpmn:script>'
        '</bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="F3b" sourceRef="Confirm" targetRef="Decide" />')
    text = text.replace('<bpmn:flowNodeRef>Decide</bpmn:flowNodeRef>',
                        '<bpmn:flowNodeRef>Decide</bpmn:flowNodeRef>'
                        '<bpmn:flowNodeRef>Confirm</bpmn:flowNodeRef>')
    text = text.replace('<bpmn:incoming>F3</bpmn:incoming>\n      <bpmn:outgoing>F5',
                        '<bpmn:incoming>F3b</bpmn:incoming>\n      <bpmn:outgoing>F5')
    setup.deploy_sources({"review_test.bpmn": text.encode()}, "t")
    [first, _] = migration.move("review_test", ACTOR)
    assert "the step «核查» (Check), open in this case, changed its outgoing flows in the " \
           "new version" in first.blockers, first.blockers
    assert not first.moved and _migrated_events() == []


def test_moving_the_open_step_to_another_lane_is_refused(broken):
    text = GOOD.decode()
    text = text.replace('<bpmn:flowNodeRef>Check</bpmn:flowNodeRef>', '')
    text = text.replace('<bpmn:flowNodeRef>Approve</bpmn:flowNodeRef>',
                        '<bpmn:flowNodeRef>Approve</bpmn:flowNodeRef>'
                        '<bpmn:flowNodeRef>Check</bpmn:flowNodeRef>')
    setup.deploy_sources({"review_test.bpmn": text.encode()}, "t")
    [first, _] = migration.move("review_test", ACTOR)
    assert "the step «核查» (Check), open in this case, changed its lane (who does it) in " \
           "the new version" in first.blockers, first.blockers


def test_choosing_the_version_and_the_cases(broken):
    healthy_version, stuck = broken.healthy.process_version_id, broken.broken.process_version_id
    with pytest.raises(NotFound, match="version 999 is not a deployed version of 'review_test'"):
        migration.move("review_test", ACTOR, to_version=999)
    with pytest.raises(NotFound, match="no case numbered AF0"):
        migration.move("review_test", ACTOR, to_version=healthy_version, case_numbers=["AF0"])
    with pytest.raises(NotFound, match="not deployed"):
        migration.move("no_such_process", ACTOR)
    # only the instances on --from move
    [m] = migration.move("review_test", ACTOR, to_version=healthy_version,
                         from_version=stuck, dry_run=True)
    assert m.instance_id == broken.broken.id


def test_a_real_case_moves_in_the_middle_of_its_branches_and_goes_on(app, client):
    world = factories.deployed_org()
    case, _ = cases.register(world.student1.id, victim(), world.counselor1,
                             factories.actor(world.counselor1))
    now = clock.now()
    complete(case, "talk", world.counselor1, reached_how="in_person", talked_at=now.isoformat(),
             ongoing="no", what_happened="已停止联系", mood="worried")
    complete(case, "psych_accept", world.psych, accept="accept",
             first_session_at=(now + timedelta(days=1)).isoformat())
    model = (ROOT / "bpmn" / "fraud_case.bpmn").read_text(encoding="utf-8")
    fixed = model.replace(
        "<bpmn:script>case_facts = record_session(case_facts, risk_assessment, more_sessions)",
        "<bpmn:script>case_facts = record_session(case_facts, risk_assessment, more_sessions)\n"
        "session_recorded = True")
    assert fixed != model
    tables = {name: (ROOT / "bpmn" / name).read_bytes()
              for name in ("fraud_case_triage.dmn", "fraud_case_flags.dmn")}
    setup.deploy_sources({"fraud_case.bpmn": fixed.encode(), **tables}, "t")
    open_before = sorted(db.session.execute(select(TaskRow.id, TaskRow.task_spec).where(
        TaskRow.case_id == case.id, TaskRow.state == "ready")).all())
    [moved] = migration.move("fraud_case", ACTOR)
    assert moved.moved and moved.case_number == case.number and "ps_session" in moved.changed
    assert sorted(db.session.execute(select(TaskRow.id, TaskRow.task_spec).where(
        TaskRow.case_id == case.id, TaskRow.state == "ready")).all()) == open_before
    clock.advance(timedelta(days=1, minutes=1))
    complete(case, "counseling_session", world.psych, session_at=clock.now().isoformat(),
             notes="情绪稳定", risk_assessment="low", more_sessions=False)
    instance = db.session.scalar(select(WorkflowInstance).where(
        WorkflowInstance.case_id == case.id))
    rows_match_state(instance.id)
    assert instance.process_version_id == db.session.scalar(
        select(func.max(ProcessVersion.id)).where(ProcessVersion.process_id == "fraud_case"))
    assert "session_recorded" in instance.state  # the fixed script ran
    assert audit.verify(db.session).ok
    # the case history says so, in words
    login(client, "leader")
    html = client.get(f"/cases/{case.id}?type=process_migrated").get_data(as_text=True)
    assert "已迁移到另一流程版本" in html
    assert f"{moved.from_version} → {moved.to_version}" in html
    assert "本案涉及的改动" in html and "记录咨询" in html  # ps_session, by its name


def test_the_instances_commands_list_versions_and_move_cases(broken, tmp_path):
    from caseflow.cli import main

    env = {k: v for k, v in _env(tmp_path).items() if k.startswith("CASEFLOW_")}
    setup.deploy_sources({"review_test.bpmn": GOOD}, "t")
    healthy, stuck = broken.healthy.process_version_id, broken.broken.process_version_id
    listed = CliRunner().invoke(main, ["instances", "list", "review_test"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith(f"review_test  version {stuck}  ") and "running: 1" in lines[0]
    assert lines[1].startswith(f"review_test  version {healthy}  ")
    assert lines[1].endswith("running: 1  <- new instances start here")
    dry = CliRunner().invoke(main, ["instances", "migrate", "review_test", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert (f"instance {broken.broken.id} (no case): version {stuck} -> {healthy}: would move "
            "(changed: Decide, Escalate)") in dry.output
    assert "would move 1 of 1; 0 stay" in dry.output
    done = CliRunner().invoke(main, ["instances", "migrate", "review_test"], env=env)
    assert done.exit_code == 0 and "moved 1 of 1; 0 stay" in done.output
    [event] = _migrated_events()
    assert event.actor.startswith("cli:") and event.actor_role == "admin"
    again = CliRunner().invoke(main, ["instances", "migrate", "review_test"], env=env)
    assert again.exit_code == 0 and "nothing to move" in again.output
    bad = CliRunner().invoke(main, ["instances", "migrate", "review_test", "--to", "999"],
                             env=env)
    assert bad.exit_code == 1 and "version 999 is not a deployed version" in bad.output


def test_an_instance_that_cannot_move_makes_the_command_exit_1(broken, tmp_path):
    from caseflow.cli import main

    env = {k: v for k, v in _env(tmp_path).items() if k.startswith("CASEFLOW_")}
    setup.deploy_sources({"review_test.bpmn": _rewired(GOOD.decode())}, "t")
    answer = CliRunner().invoke(main, ["instances", "migrate", "review_test"], env=env)
    assert answer.exit_code == 1
    assert f"instance {broken.healthy.id} (no case): version 1 -> 3: stays: " in answer.output
    assert "the step «审批» (Approve) is no longer in the new version" in answer.output
    assert "moved 0 of 2; 2 stay" in answer.output


def test_the_administrator_sees_which_versions_running_cases_are_on(client, broken):
    setup.deploy_sources({"review_test.bpmn": GOOD}, "t")  # the broken one is no longer current
    login(client, "admin")
    html = client.get("/admin/faults").get_data(as_text=True)
    assert "review_test 有 1 个运行中的实例仍在旧版本上" in html
    assert 'href="/admin/processes#p-review_test"' in html
    migration.move("review_test", ACTOR)
    html = client.get("/admin/faults").get_data(as_text=True)
    assert "仍在旧版本上" not in html and "流程故障" in html


def test_a_move_that_would_change_the_open_steps_is_refused_even_past_the_checks(
        broken, monkeypatch):
    # the last guard: were the checks to miss a change of kind, the open steps compare
    from caseflow.engine import migrating

    monkeypatch.setattr(migrating, "_check_changes", lambda *args: None)
    text = re.sub(r'<bpmn:userTask id="Check" name="核查">.*?</bpmn:userTask>',
                  '<bpmn:scriptTask id="Check" name="核查"><bpmn:incoming>F2</bpmn:incoming>'
                  '<bpmn:outgoing>F3</bpmn:outgoing><bpmn:script>x = 1</bpmn:script>'
                  '</bpmn:scriptTask>', GOOD.decode(), flags=re.S)
    setup.deploy_sources({"review_test.bpmn": text.encode()}, "t")
    state = db.session.get(WorkflowInstance, broken.healthy.id).state
    moves = migration.move("review_test", ACTOR)
    assert [m.blockers for m in moves] == [
        ["the new version would change this case's open steps or timers"]] * 2
    instance = db.session.get(WorkflowInstance, broken.healthy.id, populate_existing=True)
    assert (instance.version, instance.state) == (1, state) and _migrated_events() == []


def test_a_screening_round_stuck_on_a_broken_class_model_moves_and_its_sheet_goes_in(app):
    # instances without a case: each class's screening in a round
    from caseflow.models import Klass, ScreeningClass
    from caseflow.services import screening, screening_import
    from tests.factories import screening_sheet as xlsx

    people = factories.deployed_org()
    model = (ROOT / "bpmn" / "class_screening.bpmn").read_text(encoding="utf-8")
    broken = model.replace(">len(followups) &gt; 0<",
                           ">len(followups) &gt; 0 and followups[0]['x']<")
    setup.deploy_sources({"class_screening.bpmn": broken.encode()}, "t")
    screening.start_round(people.affairs, factories.actor(people.affairs))
    later = (clock.now() + timedelta(days=2)).date().isoformat()
    sheet = xlsx([["2024000101", "张三", "未能联系", None, None, "重点关注", "实习单位在外地",
                   later]])
    c1 = people.counselor1
    with pytest.raises(ProcessFailed):
        screening_import.import_sheet("K1", sheet, c1, factories.actor(c1))
    setup.deploy_sources({"class_screening.bpmn": model.encode()}, "t")  # the fix
    moves = migration.move("class_screening", ACTOR)
    assert len(moves) == 3 and all(m.moved and m.case_number is None for m in moves)
    assert all(m.changed == ["any_followups"] for m in moves)
    result = screening_import.import_sheet("K1", sheet, c1, factories.actor(c1))
    assert result.entries == 1
    k1 = db.session.scalar(select(ScreeningClass).join(Klass).where(Klass.code == "K1"))
    assert k1.state != "open"  # the sheet went in and the class's screening went on
    assert audit.verify(db.session).ok


def test_the_administrator_checks_and_moves_cases_and_rolls_back_on_the_web(client, broken):
    from tests.conftest import csrf_token

    stuck, healthy = broken.broken.process_version_id, broken.healthy.process_version_id
    login(client, "admin")
    html = client.get("/admin/processes").get_data(as_text=True)
    assert "流程版本" in html and "<code>review_test</code>" in html
    # new cases start on the broken version: roll back to the first from the page
    assert "有 1 个运行中的实例仍在旧版本上" in html
    answer = client.post(f"/admin/processes/versions/{healthy}/current",
                         data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 302
    assert runner.latest_version("review_test").id == healthy
    [deployed] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "process_deployed", AuditEvent.actor == "admin")).all()
    assert json.loads(deployed.detail)["restored"] and deployed.actor_id == broken.admin.id
    html = client.get("/admin/processes").get_data(as_text=True)
    checked = client.post("/admin/processes/review_test/check",
                          data={"csrf_token": csrf_token(html)}).get_data(as_text=True)
    assert "迁移将会怎样" in checked and "可以迁移 (改动: Decide, Escalate)" in checked
    assert db.session.get(WorkflowInstance, broken.broken.id).process_version_id == stuck
    moved = client.post("/admin/processes/review_test/move",
                        data={"csrf_token": csrf_token(html)})
    text = moved.get_data(as_text=True)
    assert moved.status_code == 200 and "迁移结果" in text and "已迁移 (改动" in text
    assert "已迁移 1 个实例（共 1 个）；0 个保留原版本。" in text
    instance = db.session.get(WorkflowInstance, broken.broken.id, populate_existing=True)
    assert instance.process_version_id == healthy
    [event] = _migrated_events()
    assert event.actor == "admin" and event.actor_role == "admin"
    # without a token nothing happens; nobody else sees the page
    assert client.post("/admin/processes/review_test/move").status_code == 400
    login(client, "counselor1")
    assert client.get("/admin/processes").status_code == 404
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post(f"/admin/processes/versions/{stuck}/current",
                       data={"csrf_token": token}).status_code == 404
    assert runner.latest_version("review_test").id == healthy


def test_the_web_moves_a_few_seconds_at_a_time_and_offers_the_rest(client, broken,
                                                                  monkeypatch):
    from tests.conftest import csrf_token

    more = [runner.start_instance("review_test", {"level": "red"}, ACTOR).instance.id
            for _ in range(2)]
    db.session.commit()
    stuck = sorted([broken.broken.id, *more])
    setup.set_current("review_test", broken.healthy.process_version_id)
    db.session.commit()
    monkeypatch.setattr(migration, "WEB_SECONDS", 0.0)  # one instance a page
    login(client, "admin")
    token = csrf_token(client.get("/admin/processes").get_data(as_text=True))
    after, seen = None, []
    for left in (2, 1, 0):
        form = {"csrf_token": token, **({"after": after} if after else {})}
        page = client.post("/admin/processes/review_test/check", data=form).get_data(as_text=True)
        rows = re.findall(r"<tr>\s*<td>(\d+)</td>", page)
        seen += rows
        assert (f"还有 {left} 个实例尚未处理" in page) == bool(left)
        found = re.search(r'name="after" value="(\d+)"', page)
        assert bool(found) == bool(left)
        after = found and found.group(1)
    assert [int(i) for i in seen] == stuck  # each looked at once, oldest first
    assert not _migrated_events()  # checking moved nothing
    for left in (2, 1, 0):
        page = client.post("/admin/processes/review_test/move",
                           data={"csrf_token": token}).get_data(as_text=True)
        assert "已迁移 1 个实例（共 1 个）" in page
        assert ("继续迁移其余实例" in page) == bool(left)
    assert len(_migrated_events()) == 3
    assert migration.behind(migration.versions()) == {}
