"""class_screening and screening_round on the engine alone: every path, simulated time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from caseflow.engine.functions import standard_functions
from caseflow.engine.runtime import Run
from caseflow.engine.specs import ParsedProcess
from workflows import class_screening as cs
from workflows import screening_round as sr

ROOT = Path(__file__).resolve().parents[2] / "bpmn"


def parse(process_id: str) -> ParsedProcess:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(ROOT / f"{process_id}.bpmn")])
    return ParsedProcess(process_id, "test", parser.get_spec(process_id),
                         parser.get_subprocess_specs(process_id))


class Instance:
    """One instance, loaded and dumped around every step."""

    def __init__(self, process: ParsedProcess, sim: Any, data: dict[str, Any],
                 functions: dict[str, Any]) -> None:
        self.process, self.sim, self.functions = process, sim, functions
        run, events = Run.start(process, data, functions)
        self.events = list(events)
        self._keep(run)

    def _keep(self, run: Run) -> None:
        self.state, self.completed = run.dump(), run.completed

    def load(self) -> Run:
        return Run.load(self.process, self.state, self.functions)

    def tasks(self) -> list[Any]:
        return self.load().ready_human_tasks()

    def timers(self) -> list[tuple[str, Any]]:
        return sorted((t.event_id, t.due_at) for t in self.load().waiting_timers())

    def complete(self, task: Any, data: dict[str, Any]) -> list:
        run = self.load()
        events = run.complete(task.id, data)
        self.events += events
        self._keep(run)
        return events

    def advance(self, delta: timedelta) -> list:
        self.sim.advance(delta)
        run = self.load()
        events = run.fire_timers()
        self.events += events
        self._keep(run)
        return events


def notices(events: list) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.element_id, e.notify) for e in events if e.type == "escalation_raised"]


@pytest.fixture(scope="module")
def class_process() -> ParsedProcess:
    return parse(cs.PROCESS_ID)


@pytest.fixture
def screening(class_process, sim):
    due = sim.now + timedelta(days=7)
    data = {"round_id": 1, "round_no": "MP20260001", "class_id": 3, "class_code": "K1",
            "due_at": due.isoformat(), "students": 40}
    return Instance(class_process, sim, data, standard_functions())


def summary(followups: list[dict[str, Any]]) -> dict[str, Any]:
    return cs.summary({"talked": 38, "flagged": 1, "not_reached": 1}, followups, "xlsx", "d")


def followup(sim: Any, days: int, students: int = 1) -> dict[str, Any]:
    day = sim.now + timedelta(days=days)
    return {"on": day.date().isoformat(), "remind_at": day.isoformat(),
            "due_at": (day + timedelta(hours=16)).isoformat(),
            "students": [{"student_no": f"20240001{n}", "name": "张三"} for n in range(students)]}


def test_the_counselor_gets_one_task_due_at_the_rounds_due_date(screening, sim):
    [task] = screening.tasks()
    due = sim.now + timedelta(days=7)
    assert (task.spec_id, cs.LANES[task.lane], task.due_value) == (
        cs.TASK, "counselor", due.isoformat())
    assert screening.timers() == [("screening_overdue", due)]


def test_a_late_class_escalates_to_the_college_officer_and_the_lead_office(screening):
    assert notices(screening.advance(timedelta(days=6, hours=23))) == []
    assert notices(screening.advance(timedelta(hours=1, minutes=1))) == [
        ("screening_escalate", ("college_officer", "lead_office"))]
    assert [t.spec_id for t in screening.tasks()] == [cs.TASK]  # it stays open


def test_a_class_without_follow_ups_ends_with_its_task(screening):
    [task] = screening.tasks()
    screening.complete(task, summary([]))
    assert screening.completed and screening.timers() == []


def test_each_follow_up_day_opens_a_reminder_for_the_counselor_on_that_day(screening, sim):
    [task] = screening.tasks()
    first, second = followup(sim, 2, students=2), followup(sim, 4)
    screening.complete(task, summary([first, second]))
    assert screening.tasks() == []
    assert [name for name, _ in screening.timers()] == ["wait_followup", "wait_followup"]
    screening.advance(timedelta(days=2, minutes=1))
    [reminder] = screening.tasks()
    assert (reminder.spec_id, reminder.due_value) == (cs.FOLLOWUP_TASK, first["due_at"])
    assert screening.load().task_data(reminder.id)["followup"]["students"] == first["students"]
    screening.complete(reminder, {"result": "reached", "note": "已电话联系"})
    assert notices(screening.advance(timedelta(days=2, hours=17))) == [
        ("followup_escalate", ("college_officer",))]
    [late] = screening.tasks()
    screening.complete(late, {"result": "not_reached", "note": "仍未接通，已联系家长"})
    assert screening.completed


@pytest.fixture(scope="module")
def round_process() -> ParsedProcess:
    return parse(sr.PROCESS_ID)


def test_the_college_review_is_due_three_days_after_the_round_then_the_lead_office_hears(
        round_process, sim):
    due = sim.now + timedelta(days=7)
    data = {"round_id": 1, "round_no": "MP20260001", "college_id": 1, "college_code": "C01",
            "round_due_at": due.isoformat()}
    review = Instance(round_process, sim, data, {**standard_functions(), **sr.FUNCTIONS})
    [task] = review.tasks()
    assert (task.spec_id, sr.LANES[task.lane]) == (sr.TASK, "college_officer")
    assert task.due_value == (due + timedelta(days=3)).isoformat()
    assert notices(review.advance(timedelta(days=10, minutes=1))) == [
        ("review_escalate", ("lead_office",))]
    review.complete(task, {"reviewed": True, "issues": None, "actions": None})
    assert review.completed
