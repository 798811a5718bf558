"""The warning_dissuasion process on the engine alone: every path, simulated time.

Each step loads the stored state and dumps it again, as the app does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from marshmallow import ValidationError
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from caseflow.engine.functions import standard_functions
from caseflow.engine.runtime import Run
from caseflow.engine.specs import ParsedProcess
from workflows import warning_dissuasion as wd

BPMN = Path(__file__).resolve().parents[2] / "bpmn" / "warning_dissuasion.bpmn"
FUNCTIONS = {**standard_functions(), **wd.FUNCTIONS}


@pytest.fixture(scope="module")
def process() -> ParsedProcess:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(BPMN)])
    return ParsedProcess(wd.PROCESS_ID, "test", parser.get_spec(wd.PROCESS_ID),
                         parser.get_subprocess_specs(wd.PROCESS_ID))


class WarningRun:
    """One instance, loaded and dumped around every step."""

    def __init__(self, process: ParsedProcess, sim: Any, warned_ago: timedelta) -> None:
        self.process, self.sim, self.events = process, sim, []
        data = {"warning_id": 1, "warning_no": "YJ2026000001",
                "warned_at": (sim.now - warned_ago).isoformat(), "fraud_type": "fake_job",
                "urgency": "urgent", "student_status": "在校", "away": False}
        run, events = Run.start(process, data, FUNCTIONS)
        self._after(run, events)

    def _after(self, run: Run, events: list) -> None:
        self.state = run.dump()
        self.events += events
        self.completed = run.completed

    def load(self) -> Run:
        return Run.load(self.process, self.state, FUNCTIONS)

    def tasks(self) -> dict[str, Any]:
        return {t.spec_id: t for t in self.load().ready_human_tasks()}

    def timers(self) -> dict[str, Any]:
        return {t.event_id: t.due_at for t in self.load().waiting_timers()}

    def complete(self, spec: str, **fields: Any) -> list:
        schema = wd.FORMS[spec]()
        data = schema.dump(schema.load(fields))
        run = self.load()
        events = run.complete(self.tasks()[spec].id, data)
        self._after(run, events)
        return events

    def advance(self, delta: timedelta) -> list:
        self.sim.advance(delta)
        run = self.load()
        events = run.fire_timers()
        self._after(run, events)
        return events


def reach(sim: Any, **extra: Any) -> dict[str, Any]:
    return {"reached_at": sim.now.isoformat(), "reached_how": "in_person", "dissuaded": True,
            **extra}


def notices(events: list) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.element_id, e.notify) for e in events if e.type == "escalation_raised"]


@pytest.fixture
def start(process, sim):
    return lambda warned_ago=timedelta(0): WarningRun(process, sim, warned_ago)


def test_counselor_and_security_office_get_reach_the_student_at_once(start, sim):
    run = start()
    tasks = run.tasks()
    assert {k: (t.lane, t.due_value) for k, t in tasks.items()} == {
        "reach_counselor": ("辅导员", "PT30M"), "reach_security": ("保卫处", "PT30M")}
    assert {wd.LANES[t.lane] for t in tasks.values()} == {"counselor", "security_office"}
    assert run.timers() == {"reach_overdue": sim.now + timedelta(minutes=30),
                            "reach_leaders": sim.now + timedelta(hours=2)}


@pytest.mark.parametrize("first, other", [("reach_counselor", "reach_security"),
                                          ("reach_security", "reach_counselor")])
def test_whoever_reaches_first_closes_the_other_task(start, sim, first, other):
    run = start()
    sim.advance(timedelta(minutes=12))
    events = run.complete(first, **reach(sim))
    assert set(run.tasks()) == {"police_feedback"}
    assert other not in run.tasks()
    assert ("event_thrown", "counselor_reached" if first == "reach_counselor"
            else "security_reached") in [(e.type, e.element_id) for e in events]
    assert wd.CASE_EVENT not in [e.element_id for e in events]
    assert run.timers() == {"feedback_overdue": sim.now + timedelta(hours=24)}


def test_overdue_escalates_to_college_and_lead_office_then_leaders_two_hours_after_warning(
        start, sim):
    run = start(warned_ago=timedelta(minutes=40))  # matched 40 minutes after the warning
    assert notices(run.advance(timedelta(minutes=29))) == []
    assert notices(run.advance(timedelta(minutes=2))) == [
        ("reach_escalate", ("college_officer", "lead_office"))]
    assert set(run.tasks()) == {"reach_counselor", "reach_security"}  # both stay open
    assert notices(run.advance(timedelta(minutes=48))) == []  # 1 h 59 min after the warning
    assert notices(run.advance(timedelta(minutes=2))) == [
        ("reach_escalate_leaders", ("leader",))]
    assert set(run.tasks()) == {"reach_counselor", "reach_security"}
    assert run.timers() == {}


def test_reaching_the_student_stops_the_escalations(start, sim):
    run = start()
    run.advance(timedelta(minutes=10))
    run.complete("reach_security", **reach(sim))
    assert notices(run.advance(timedelta(hours=3))) == []


@pytest.mark.parametrize("outcome, opens", [
    ({"dissuaded": True}, False),
    ({"dissuaded": False}, True),
    ({"dissuaded": True, "money_transferred": True, "amount_cny": "3000"}, True),
    ({"dissuaded": True, "took_part": True, "behaviour": "bank_card"}, True),
])
def test_a_case_is_needed_when_not_dissuaded_money_moved_or_the_student_took_part(
        start, sim, outcome, opens):
    run = start()
    if outcome.get("money_transferred"):
        outcome["transferred_at"] = (sim.now - timedelta(hours=1)).isoformat()
    events = run.complete("reach_counselor", **reach(sim, **outcome))
    assert (wd.CASE_EVENT in [e.element_id for e in events]) is opens
    assert set(run.tasks()) == {"police_feedback"}


def test_police_feedback_is_due_24_hours_after_the_outcome_then_the_process_ends(start, sim):
    run = start()
    sim.advance(timedelta(minutes=20))
    run.complete("reach_counselor", **reach(sim, dissuaded=False))
    assert run.tasks()["police_feedback"].due_value == "PT24H"
    assert notices(run.advance(timedelta(hours=24, minutes=1))) == [
        ("feedback_escalate", ("college_officer",))]
    run.complete("police_feedback", fed_back_at=sim.now.isoformat(), channel="phone",
                 content="学生已劝阻，已登记个案")
    assert run.completed
    assert run.events[-1].type == "process_completed"


def test_reach_form_asks_for_the_transfer_and_what_the_student_did():
    schema = wd.ReachSchema()
    with pytest.raises(ValidationError) as err:
        schema.load({"reached_at": "2026-03-02T01:00:00+00:00", "reached_how": "phone",
                     "dissuaded": True, "money_transferred": True, "took_part": True})
    assert set(err.value.messages) == {"amount_cny", "transferred_at", "behaviour"}


def test_warning_form_needs_a_phone_an_id_card_or_a_name():
    schema = wd.WarningSchema()
    with pytest.raises(ValidationError) as err:
        schema.load({"warned_at": "2026-03-02T01:00:00+00:00", "fraud_type": "fake_job"})
    assert "phone" in err.value.messages
    loaded = schema.load({"warned_at": "2026-03-02T01:00:00+00:00", "fraud_type": "fake_job",
                          "phone": "138-0000 0000", "id_card": "37010220050101002x"})
    assert (loaded["phone"], loaded["id_card"]) == ("13800000000", "37010220050101002X")


@pytest.mark.parametrize("outcome, category, ongoing", [
    ({"dissuaded": False}, "at_risk", "yes"),
    ({"dissuaded": False, "money_transferred": True, "amount_cny": "3000.00",
      "transferred_at": "2026-03-02T00:30:00+00:00"}, "victim", "yes"),
    ({"dissuaded": True, "money_transferred": True, "amount_cny": "3000.00",
      "transferred_at": "2026-03-02T00:30:00+00:00"}, "victim", "no"),
    ({"dissuaded": True, "took_part": True, "behaviour": "bank_card"}, "involved", "no"),
])
def test_the_registration_carries_the_facts(outcome, category, ongoing):
    warning = {"number": "YJ2026000001", "warned_at": "2026-03-02T00:00:00+00:00",
               "fraud_type": "fake_job", "note": "公安预警"}
    data = wd.case_registration(outcome, warning)
    assert (data["category"], data["ongoing"], data["discovery_source"]) == (
        category, ongoing, "police_notice")
    if category == "victim":
        assert (data["loss_cny"], data["last_transfer_at"]) == (
            "3000.00", "2026-03-02T00:30:00+00:00")
    if category == "involved":
        assert data["behaviour"] == "bank_card" and "fraud_type" not in data
    else:
        assert data["fraud_type"] == "fake_job"
