"""Engine-level fixtures for the fraud_case process: no web, no database, simulated time.

A `CaseRun` drives one instance the way the app does: every step loads the stored state,
acts (complete a task through its form schema, fire due timers, send a message) and dumps
the state again, so anything that does not survive serialization shows up here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from caseflow import clock
from caseflow.engine.functions import standard_functions
from caseflow.engine.runtime import Run
from caseflow.engine.specs import ParsedProcess
from caseflow.engine.types import EngineEvent, HumanTask
from workflows import fraud_case as fc

ROOT = Path(__file__).resolve().parents[2]
BPMN_FILE = ROOT / "bpmn" / "fraud_case.bpmn"
DMN_FILES = [ROOT / "bpmn" / "fraud_case_triage.dmn", ROOT / "bpmn" / "fraud_case_flags.dmn"]
FUNCTIONS = {**standard_functions(), **fc.FUNCTIONS}

# Monday 2 March 2026, 09:00 in Asia/Shanghai.
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
S, H, D = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)  # steps of time

RED_NOTIFY = ("college_officer", "lead_office")


def parse_process() -> ParsedProcess:
    """Parse the model with XSD validation on, as the engine tests and deploy do."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(BPMN_FILE)])
    parser.add_dmn_files([str(p) for p in DMN_FILES])
    return ParsedProcess(fc.PROCESS_ID, "test", parser.get_spec(fc.PROCESS_ID),
                         parser.get_subprocess_specs(fc.PROCESS_ID))


@pytest.fixture(scope="session")
def process() -> ParsedProcess:
    return parse_process()


class SimClock:
    """Pinned simulated time: `advance` moves it; nothing ever sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._stack = ExitStack()
        self._stack.enter_context(clock.pinned(start))

    def advance(self, delta: timedelta) -> datetime:
        self.now = self.now + delta
        self._stack.enter_context(clock.pinned(self.now))
        return self.now

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def sim() -> Iterator[SimClock]:
    clock.reset()
    simulated = SimClock(T0)
    yield simulated
    simulated.close()
    clock.reset()


def iso(when: datetime) -> str:
    return when.isoformat()


def registration(sim: SimClock, student: dict[str, Any] | None = None, **fields: Any
                 ) -> dict[str, Any]:
    """Registration data as the app sends it: the schema's dump plus the student's facts."""
    raw = {"student_id": 1001, "discovery_source": "police_notice", "category": "victim",
           "fraud_type": "order_brushing", "what_happened": "刷单返利被骗",
           "discovered_at": iso(sim.now), **fields}
    if raw["category"] == "involved":
        raw.pop("fraud_type", None)
        raw.setdefault("behaviour", "bank_card")
    schema = fc.REGISTRATION()
    data = schema.dump(schema.load(raw))
    facts = {"psych_watch": False, "hardship": False, "minor": False,
             "repeated_victim": bool(data.get("repeated_victim")), "student_status": "在校"}
    facts.update(student or {})
    data.update(facts)
    return data


def form_defaults(spec_id: str, now: datetime) -> dict[str, Any]:
    """A valid submission of each form (tests override single fields)."""
    today = (now + timedelta(hours=8)).date().isoformat()
    return {
        "major_ack": {"acknowledged": True, "reported_to": "分管校领导"},
        "stop_payment": {"bank": "某银行", "account": "6222", "amount_cny": "8000",
                         "police_called_at": iso(now), "police_receipt_no": "JQ001",
                         "freeze_result": "frozen", "frozen_cny": "5000"},
        "triage_review": {"confirm_risk": True, "counselor_id": 7,
                          "plan": "一人一策：谈话、家校联系"},
        "talk": {"reached_how": "in_person", "talked_at": iso(now), "place": "辅导员办公室",
                 "ongoing": "no", "what_happened": "经过已核实", "mood": "worried",
                 "crisis_indicated": False, "refer_psych": False},
        "parent_contact": {"guardian": "学生父亲", "relation": "父亲", "channel": "phone",
                           "contacted_at": iso(now), "reached": True,
                           "talking_points": ["watch_cards_money", "install_app"]},
        "psych_accept": {"accept": "accept", "first_session_at": iso(now + timedelta(days=2))},
        "psych_decline_decision": {"decline_action": "close_branch", "reason": "学生已在校外就诊"},
        "counseling_session": {"session_at": iso(now), "notes": "保密的咨询记录：学生谈到家庭矛盾",
                               "risk_assessment": "low", "more_sessions": False},
        "psych_summary": {"sessions_held": 1, "status": "stable", "summary": "情绪稳定"},
        "police_referral": {"police_station": "某派出所", "reported_on": today,
                            "receipt_no": "BA001", "outcome": "reported"},
        "discipline_decision": {"knowing": "yes", "level": "warning",
                                "vetoes": ["awards", "party"], "reason": "主观故意出租银行卡"},
        "class_lesson": {"held_on": today, "scope": "class", "attendance": 42,
                         "material": "反诈警示案例"},
        "followup_visit": {"visited_at": iso(now), "reached_how": "in_person",
                           "student_state": "stable"},
        "closure_review": {"closure_decision": "approve", "closing_summary": "已处置完毕",
                           "recovered_cny": "5000", "lessons": "及时止付"},
        "withdrawal_approval": {"approval": "approve"},
        "downgrade_approval": {"approval": "approve"},
    }[spec_id]


def clean_form(spec_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate with the task's schema and strip confidential fields, as the app does."""
    schema = fc.FORMS[spec_id]()
    clean = schema.dump(schema.load(data))
    for name, f in schema.fields.items():
        if f.metadata.get("confidential") and name in clean:
            clean.pop(name)
            clean[f"{name}_ref"] = "confidential-note:1"
    return clean


def check_monotonic(before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """What only ever grows must never shrink: a lost update of the data object shows here."""
    if not before or not after:
        return
    for group in ("flags", "started"):
        lost = [k for k, v in before[group].items() if v and not after[group].get(k)]
        assert not lost, f"{group} turned off: {lost}"
    for key in ("crisis_events", "findings", "psych_referrals", "sessions_held",
                "followups_done"):
        assert after[key] >= before[key], f"{key} went down: {before[key]} -> {after[key]}"
    assert not (before["talk_done"] and not after["talk_done"]), "talk_done turned off"


@dataclass
class Entry:
    """One line of the case history: a human step or something the engine did."""

    type: str
    element: str
    notify: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)


class CaseRun:
    """One fraud_case instance driven step by step, with load/dump around every step."""

    def __init__(self, process: ParsedProcess, sim: SimClock, data: dict[str, Any]) -> None:
        self.process = process
        self.sim = sim
        self.history: list[Entry] = [Entry("case_registered", fc.PROCESS_ID)]
        self.opened: list[tuple[str, str | None, str | None]] = []
        run, events = Run.start(process, data, FUNCTIONS)
        self._after(run, events)

    # -- plumbing --------------------------------------------------------------------
    def load(self) -> Run:
        return Run.load(self.process, self.state, FUNCTIONS)

    def _after(self, run: Run, events: list[EngineEvent]) -> list[EngineEvent]:
        self.state = run.dump()
        facts = run.data_objects.get("case_facts")
        check_monotonic(getattr(self, "_facts", None), facts)
        self._facts = facts
        self.timer_ids = getattr(self, "timer_ids", set()) | {
            t.event_id for t in run.waiting_timers()}
        for ev in events:
            self.history.append(Entry(ev.type, ev.element_id, ev.notify, ev.detail))
        known = {t[0] for t in getattr(self, "_ready", [])}
        self._ready = [(t.id, t.spec_id, t.lane, t.due_value) for t in run.ready_human_tasks()]
        for tid, spec, lane, due in self._ready:
            if tid not in known:
                self.opened.append((spec, lane, due))
        self.completed = run.completed
        return events

    def act(self, action: Any) -> list[EngineEvent]:
        run = self.load()
        return self._after(run, action(run))

    # -- reading ---------------------------------------------------------------------
    @property
    def facts(self) -> dict[str, Any]:
        return self.load().data_objects["case_facts"]

    def tasks(self) -> list[HumanTask]:
        return self.load().ready_human_tasks()

    def open_ids(self) -> list[str]:
        return sorted(t.spec_id for t in self.tasks())

    def task(self, spec_id: str) -> HumanTask:
        found = [t for t in self.tasks() if t.spec_id == spec_id]
        assert len(found) == 1, f"{spec_id}: {len(found)} open, open are {self.open_ids()}"
        return found[0]

    def opened_ids(self) -> set[str]:
        return {spec for spec, _, _ in self.opened}

    def notices(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(e.element, e.notify) for e in self.history if e.type == "escalation_raised"]

    def timers(self) -> dict[str, datetime]:
        return {t.event_id: t.due_at for t in self.load().waiting_timers()}

    # -- acting ----------------------------------------------------------------------
    def complete(self, spec_id: str, **fields: Any) -> list[EngineEvent]:
        data = {**form_defaults(spec_id, self.sim.now), **fields}
        clean = clean_form(spec_id, data)
        task = self.task(spec_id)
        self.history.append(Entry("task_completed", spec_id, detail=clean))
        return self.act(lambda run: run.complete(task.id, clean))

    def complete_raw(self, spec_id: str, data: dict[str, Any]) -> list[EngineEvent]:
        task = self.task(spec_id)
        self.history.append(Entry("task_completed", spec_id, detail=data))
        return self.act(lambda run: run.complete(task.id, data))

    def advance(self, delta: timedelta) -> list[EngineEvent]:
        self.sim.advance(delta)
        return self.act(lambda run: run.fire_timers())

    def send(self, name: str, payload: dict[str, Any]) -> list[EngineEvent]:
        self.history.append(Entry("message_received", name, detail=dict(payload)))
        return self.act(lambda run: run.send_message(name, payload))


@pytest.fixture
def open_case(process: ParsedProcess, sim: SimClock) -> Any:
    """Return a factory: open_case(student=..., **registration fields) -> CaseRun."""

    def factory(student: dict[str, Any] | None = None, **fields: Any) -> CaseRun:
        return CaseRun(process, sim, registration(sim, student, **fields))

    return factory


def kinds(events: list[EngineEvent] | list[Entry], *types: str) -> list[tuple[str, str]]:
    """(type, element) of the events of the given types, in order."""
    return [(e.type, getattr(e, "element_id", None) or getattr(e, "element", ""))
            for e in events if e.type in types]


def finish_psych(case: CaseRun) -> None:
    """Accept the referral, hold one session, write the summary."""
    case.complete("psych_accept")
    case.advance(timedelta(days=2))
    case.complete("counseling_session")
    case.complete("psych_summary")
