"""The engine core without a database: start, complete, timers, events, state, sandbox."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from caseflow import clock
from caseflow.engine import (
    EngineError,
    ProcessFault,
    Run,
    load_process,
    scripting,
    split_bundle,
    standard_functions,
)
from tests.bpmn_snippets import gateway_process, script_process
from tests.conftest import DATA, TESTDATA


def _process(name: str, data: bytes):
    source = split_bundle({name: data})[0]
    return load_process(source.process_id, source.files)


@pytest.fixture
def review():
    return _process("review_test.bpmn", (DATA / "review_test.bpmn").read_bytes())


def test_start_opens_first_user_task_with_lane_and_due(review):
    run, events = Run.start(review, {"level": "red"}, standard_functions())
    [task] = run.ready_human_tasks()
    assert (task.spec_id, task.name, task.lane) == ("Check", "核查", "辅导员")
    assert task.due_value == "PT2H"  # the triage-review default for red, from settings
    assert task.instructions == "核查情况"
    [timer] = run.waiting_timers()
    assert timer.event_id == "CheckLate"
    assert timedelta(hours=1, minutes=59) < timer.due_at - clock.now() <= timedelta(hours=2)
    assert events == []


def test_state_survives_dump_and_load_without_the_spec(review):
    run, _ = Run.start(review, {"level": "yellow"}, standard_functions())
    state = run.dump()
    assert "spec" not in json.loads(state)  # the spec is stored once per version
    again = Run.load(review, state, standard_functions())
    assert [t.id for t in again.ready_human_tasks()] == [t.id for t in run.ready_human_tasks()]


def test_non_interrupting_timer_escalates_and_leaves_task_open(review):
    run, _ = Run.start(review, {"level": "red"}, standard_functions())
    clock.advance(timedelta(hours=1))
    assert run.fire_timers() == []
    clock.advance(timedelta(hours=1, minutes=1))
    events = run.fire_timers()
    kinds = [(e.type, e.element_id) for e in events]
    assert kinds == [("timer_fired", "CheckLate"), ("escalation_raised", "Escalate")]
    assert events[0].detail["attached_to"] == "Check"
    assert events[1].notify == ("college_officer", "lead_office")
    assert [t.spec_id for t in run.ready_human_tasks()] == ["Check"]


def test_gateway_decision_is_reported_and_followed(review):
    run, _ = Run.start(review, {"level": "orange"}, standard_functions())
    [task] = run.ready_human_tasks()
    events = run.complete(task.id, {"needs_approval": True})
    gateway = [e for e in events if e.type == "gateway_passed"]
    assert gateway[0].element_id == "Decide" and gateway[0].detail["taken"] == ["Approve"]
    [approve] = run.ready_human_tasks()
    assert (approve.spec_id, approve.lane, approve.due_value) == ("Approve", "学院学工办", "P7D")
    events = run.complete(approve.id, {"approved": True})
    assert events[-1].type == "process_completed" and run.completed


def test_completing_a_task_that_is_not_ready_is_refused(review):
    run, _ = Run.start(review, {"level": "orange"}, standard_functions())
    [task] = run.ready_human_tasks()
    run.complete(task.id, {"needs_approval": False})
    with pytest.raises(EngineError):
        run.complete(task.id, {"needs_approval": False})
    with pytest.raises(EngineError):
        run.complete("not-a-uuid", {})


def test_seq10_runs_to_the_end():
    process = _process("seq10.bpmn", (TESTDATA / "bench" / "seq10.bpmn").read_bytes())
    run, _ = Run.start(process, {}, standard_functions())
    for step in range(10):
        run = Run.load(process, run.dump())
        [task] = run.ready_human_tasks()
        assert task.spec_id == f"Task_{step + 1}"
        run.complete(task.id, {"step": step})
    assert run.completed


@pytest.mark.parametrize("script", [
    "import os\\nx = os.listdir('/')",
    "x = ().__class__.__base__.__subclasses__()",
    "x = open('/etc/passwd').read()",
    "x = eval('1+1')",
])
def test_script_task_cannot_escape_the_sandbox(script):
    process = _process("s.bpmn", script_process("escape_script", script.replace("\\n", "\n")))
    with pytest.raises(ProcessFault) as fault:
        Run.start(process, {}, standard_functions())
    assert (fault.value.element_id, fault.value.element_name) == ("Script", "脚本")


@pytest.mark.parametrize("condition", [
    "__import__('os').system('true') == 0",
    "().__class__.__base__.__subclasses__() != []",
])
def test_gateway_condition_cannot_escape_the_sandbox(condition):
    process = _process("g.bpmn", gateway_process("escape_gateway", condition))
    with pytest.raises(ProcessFault) as fault:
        Run.start(process, {}, standard_functions())
    assert fault.value.element_id == "Gw"


def test_sandbox_still_runs_ordinary_scripts():
    process = _process("ok.bpmn", script_process(
        "plain_script", "total = sum([1, 2, 3])\\nfacts = dict(a=1)\\nfacts['b'] = 2"
        .replace("\\n", "\n")))
    run, events = Run.start(process, {}, standard_functions())
    assert run.completed and events[-1].type == "process_completed"


@pytest.mark.parametrize("script", [
    "n = 0\\nwhile n >= 0:\\n    n += 1",
    "seen = [1]\\nfor x in seen:\\n    seen.append(x)",
    "seen = [1]\\ngrown = [seen.append(x) for x in seen]",
    # the inner loop's stop is caught by the script: the outer loop stops it again
    "while True:\\n    try:\\n        while True:\\n            pass\\n"
    "    except Exception:\\n        pass",
])
def test_a_script_that_never_ends_is_stopped_and_named(script, monkeypatch):
    monkeypatch.setattr(scripting, "TIME_LIMIT", 0.05)
    process = _process("loop.bpmn", script_process("loop_script", script.replace("\\n", "\n")))
    with pytest.raises(ProcessFault) as fault:
        Run.start(process, {}, standard_functions())
    assert (fault.value.element_id, fault.value.element_name) == ("Script", "脚本")
    assert "ran longer than 0.05 s" in fault.value.reason


def test_a_condition_that_never_ends_is_stopped(monkeypatch):
    monkeypatch.setattr(scripting, "TIME_LIMIT", 0.05)
    grows = "len([x for x in seen if not seen.append(x)]) > 0"  # appends to what it reads
    process = _process("c.bpmn", gateway_process("loop_gateway", grows))
    with pytest.raises(ProcessFault) as fault:
        Run.start(process, {"seen": [1]}, standard_functions())
    assert fault.value.element_id == "Gw" and "ran longer than" in fault.value.reason


def test_loops_that_end_still_run_in_the_sandbox():
    script = ("t = 0\\nfor i in range(100):\\n    t += i\\nwhile t > 7:\\n    t -= 7\\n"
              "a, b = (1, 2)\\nsquares = [x * x for x in range(4)]")
    process = _process("l.bpmn", script_process("ending_loops", script.replace("\\n", "\n")))
    run, _ = Run.start(process, {}, standard_functions())
    assert run.completed
