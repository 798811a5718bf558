"""Run one workflow instance: start, load, complete tasks, fire timers, send messages, dump."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent, ThrowingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import (
    BusinessRuleTaskMixin as BusinessRuleTask,
)
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from caseflow import clock
from caseflow.engine.datacopy import copy_data, install_data_copy
from caseflow.engine.scripting import make_script_engine
from caseflow.engine.serializer import SERIALIZER, install_clock
from caseflow.engine.specs import ParsedProcess
from caseflow.engine.stepping import do_engine_steps, install_waiting_update
from caseflow.engine.types import (
    EngineError,
    EngineEvent,
    HumanTask,
    PendingTimer,
    ProcessFault,
)

install_clock()
install_waiting_update()
install_data_copy()
# While their own level is unset, SpiffWorkflow's loggers put every task of a workflow and
# its data into each record's extras, built on every state change even when nothing logs
# it. caseflow keeps its own audit trail: record only their warnings.
for _name in ("spiff.task", "spiff.workflow"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass
class _Recorder:
    """Collect what the engine did on its own while steps ran."""

    events: list[EngineEvent] = field(default_factory=list)
    _before: dict[str, Any] = field(default_factory=dict)

    def will_complete(self, task: Any) -> None:
        if isinstance(task.task_spec, BusinessRuleTask):
            self._before[str(task.id)] = copy_data(_data_objects(task.workflow.top_workflow))

    def did_complete(self, task: Any) -> None:
        spec = task.task_spec
        event = _describe(task, self._before.pop(str(task.id), None))
        if event is not None:
            self.events.append(event)
        del spec


def _data_objects(workflow: BpmnWorkflow) -> dict[str, Any]:
    return dict(workflow.data.get("data_objects", {}))


def _props(spec: Any) -> dict[str, str]:
    return dict((getattr(spec, "extensions", None) or {}).get("properties", {}) or {})


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = {k: v for k, v in value.items() if old.get(k) != v}
            if inner:
                out[key] = inner
        elif old != value:
            out[key] = value
    return out


def _describe(task: Any, before: dict[str, Any] | None) -> EngineEvent | None:
    spec = task.task_spec
    element = spec.bpmn_id or spec.name
    name = spec.bpmn_name or element
    if isinstance(spec, BusinessRuleTask):
        after = _data_objects(task.workflow.top_workflow)
        outputs = _changed(before or {}, after)
        decision = getattr(getattr(spec, "dmnEngine", None), "decision_table", None)
        # Outputs with a plain name (e.g. a COLLECT list) land in task data, not in a
        # data object: report them too, or the audit trail misses that decision's result.
        for out in getattr(decision, "outputs", None) or []:
            if out.name and "." not in out.name and out.name in task.data:
                outputs[out.name] = copy_data(task.data[out.name])
        detail = {"decision": getattr(decision, "id", None), "outputs": outputs}
        return EngineEvent("decision_made", element, name, detail)
    if isinstance(spec, ExclusiveGateway | InclusiveGateway) and len(spec.outputs) > 1:
        taken = [c.task_spec.bpmn_id or c.task_spec.name for c in task.children
                 if c.state & (TaskState.READY | TaskState.COMPLETED | TaskState.FUTURE
                               | TaskState.WAITING | TaskState.STARTED)]
        return EngineEvent("gateway_passed", element, name, {"taken": taken})
    if isinstance(spec, CatchingEvent) and isinstance(spec.event_definition, TimerEventDefinition):
        detail = {"due": task._get_internal_data("event_value")}
        attached = _attached_activity(task)
        if attached:
            detail["attached_to"] = attached
        return EngineEvent("timer_fired", element, name, detail)
    if _props(spec).get("notify") or (
            isinstance(spec, ThrowingEvent)
            and type(spec.event_definition).__name__ != "NoneEventDefinition"):
        notify = tuple(t.strip() for t in _props(spec).get("notify", "").split(",") if t.strip())
        kind = "escalation_raised" if notify else "event_thrown"
        detail = {"properties": _props(spec)}
        return EngineEvent(kind, element, name, detail, notify=notify)
    return None


def _attached_activity(task: Any) -> str | None:
    """Return the id of the activity a boundary event is attached to, if it is one."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    for sibling in parent.children:
        if not isinstance(sibling.task_spec, BoundaryEvent):
            return sibling.task_spec.bpmn_id
    return None


@contextmanager
def _faults() -> Iterator[None]:
    """Turn an error of the model's own code (a script, condition or decision) into a
    ProcessFault that names the element."""
    try:
        yield
    except WorkflowException as exc:
        raise _fault(exc) from exc


_EXPRESSION = re.compile(r"Error evaluating expression '(?P<text>.*)'", re.DOTALL)


def _fault(exc: WorkflowException) -> ProcessFault:
    spec = getattr(exc, "task_spec", None)
    cause = exc.__cause__ or exc.__context__
    error_type = type(cause).__name__ if cause is not None else "WorkflowException"
    detail = str(cause) if cause is not None else str(exc).strip()
    expression = _EXPRESSION.match(str(exc))
    line = getattr(exc, "line_number", None) or None
    text = expression.group("text") if expression else (getattr(exc, "error_line", "") or "")
    return ProcessFault(getattr(spec, "bpmn_id", None) or getattr(spec, "name", "?"),
                        getattr(spec, "bpmn_name", None) or "", error_type, detail,
                        text.strip(), None if expression else line)


class Run:
    """One loaded workflow instance; nothing here touches a database."""

    def __init__(self, workflow: BpmnWorkflow, process: ParsedProcess) -> None:
        self.workflow = workflow
        self.process = process

    # -- creation -----------------------------------------------------------------
    @classmethod
    def start(
        cls,
        process: ParsedProcess,
        data: Mapping[str, Any] | None = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> tuple[Run, list[EngineEvent]]:
        """Start a new instance with `data` as the start event's task data, and run it."""
        wf = BpmnWorkflow(process.spec, process.subprocess_specs,
                          script_engine=make_script_engine(functions))
        start = wf.get_next_task(state=TaskState.READY)
        if start is not None and data:
            start.set_data(**copy_data(dict(data)))
        run = cls(wf, process)
        return run, run._steps()

    @classmethod
    def load(
        cls,
        process: ParsedProcess,
        state: str | bytes,
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> Run:
        """Rebuild an instance from its stored state and the cached spec."""
        wf = SERIALIZER.load_state(state, process.spec, process.subprocess_specs)
        wf.script_engine = make_script_engine(functions)
        return cls(wf, process)

    def dump(self) -> str:
        """Return the instance state as JSON, without the spec."""
        return SERIALIZER.dump_state(self.workflow)

    # -- reading ------------------------------------------------------------------
    @property
    def completed(self) -> bool:
        """Say whether the instance has ended."""
        return self.workflow.is_completed()

    @property
    def data_objects(self) -> dict[str, Any]:
        """Return a copy of the data objects of the top process."""
        return copy_data(_data_objects(self.workflow))

    def ready_human_tasks(self) -> list[HumanTask]:
        """Return the READY user and manual tasks, in a stable order."""
        tasks = self.workflow.get_tasks(state=TaskState.READY, manual=True)
        return [self._human(t) for t in tasks]

    def waiting_timers(self) -> list[PendingTimer]:
        """Return every timer event waiting to fire, with its due time in UTC."""
        out = []
        for task in list(self.workflow.event_manager.tasks.values()):
            definition = task.task_spec.event_definition
            if not isinstance(definition, TimerEventDefinition):
                continue
            value = task._get_internal_data("event_value")
            due = _parse_due(value)
            if due is not None:
                out.append(PendingTimer(str(task.id), task.task_spec.bpmn_id or "", due))
        return out

    def task_data(self, task_id: str) -> dict[str, Any]:
        """Return a copy of one task's data."""
        return copy_data(self._task(task_id).data)

    # -- changing -------------------------------------------------------------------
    def complete(self, task_id: str, data: Mapping[str, Any]) -> list[EngineEvent]:
        """Complete a READY human task with `data`, then run the engine."""
        task = self._task(task_id)
        if task.state != TaskState.READY or not task.task_spec.manual:
            raise EngineError(f"task {task.task_spec.bpmn_id} is not waiting for a person")
        task.set_data(**copy_data(dict(data)))
        with _faults():
            task.run()
        return self._steps()

    def fire_timers(self) -> list[EngineEvent]:
        """Fire every timer due at the clock's now, and run the engine."""
        with _faults():
            self.workflow.refresh_timers()
        return self._steps()

    def send_message(self, name: str, payload: Mapping[str, Any]) -> list[EngineEvent]:
        """Deliver a BPMN message (e.g. a new finding or a withdrawal) and run the engine."""
        event = BpmnEvent(MessageEventDefinition(name), dict(payload))
        try:
            self.workflow.send_event(event)
        except WorkflowException as exc:
            raise EngineError(f"the process is not waiting for message {name!r}") from exc
        return self._steps()

    def cancel(self) -> list[str]:
        """Cancel the whole instance; return the ids of the human tasks that were open."""
        open_ids = [t.id for t in self.ready_human_tasks()]
        self.workflow.cancel()
        return open_ids

    # -- internals --------------------------------------------------------------------
    def _steps(self) -> list[EngineEvent]:
        recorder = _Recorder()
        with _faults():
            do_engine_steps(self.workflow, recorder.will_complete, recorder.did_complete)
        if self.workflow.is_completed():
            recorder.events.append(EngineEvent("process_completed", self.process.process_id,
                                               self.process.process_id, {}))
        return recorder.events

    def _task(self, task_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError):
            task = None
        if task is None:
            raise EngineError(f"no task {task_id} in this instance")
        return task

    def _human(self, task: Any) -> HumanTask:
        spec = task.task_spec
        props = _props(spec)
        extensions = getattr(spec, "extensions", None) or {}
        return HumanTask(
            id=str(task.id),
            spec_id=spec.bpmn_id or spec.name,
            name=spec.bpmn_name or spec.bpmn_id or spec.name,
            lane=spec.lane,
            process_id=task.workflow.spec.name,
            properties=props,
            instructions=extensions.get("instructionsForEndUser"),
            due_value=self._due(task, props),
        )

    def _due(self, task: Any, props: Mapping[str, str]) -> str | None:
        expression = props.get("due")
        if not expression:
            return None
        value = self.workflow.script_engine.evaluate(task, expression)
        return None if value in (None, "") else str(value)


def _parse_due(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return TimerEventDefinition.get_datetime(value).astimezone(UTC)
    except ValueError:
        return None


def due_from(value: Any, start: datetime) -> datetime | None:
    """Turn an ISO 8601 duration (from `start`) or an ISO date/time into a UTC due time."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = str(value)
    if text.startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    return _parse_due(text)


def duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration such as PT30M or P7D."""
    parsed = TimerEventDefinition.parse_iso_duration(text)
    return TimerEventDefinition.get_timedelta_from_start(parsed, clock.now())


def to_json(value: Any) -> str:
    """Serialize task data for storage and audit (JSON-native values only)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
