"""Store workflow state without its spec, and let SpiffWorkflow's timers read caseflow's clock."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from caseflow import clock


class _ClockDatetime(datetime):
    """datetime whose now() reads caseflow.clock, so tests and the worker can move time."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


def install_clock() -> None:
    """Make SpiffWorkflow's timer events read caseflow.clock."""
    _timer_module.datetime = _ClockDatetime


class StateSerializer:
    """Dump and load the per-instance state; the spec is kept once per deployed version."""

    def __init__(self) -> None:
        self.full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.registry = self.full.registry
        typename = self.registry.typenames[BpmnWorkflow]
        # register() wraps the converter's bound to_dict in a partial: (typename, to_dict)
        self._conv = self.registry.convert_to_dict[typename].args[1].__self__

    def _workflow_converter(self) -> Any:
        return self._conv

    def dump_state(self, workflow: BpmnWorkflow) -> str:
        """Return the state of `workflow` as JSON text, without spec and subprocess specs."""
        conv = self._workflow_converter()
        self.registry._encoder_mode = True
        try:
            dct = WorkflowConverter.to_dict(conv, workflow)
            dct["subprocesses"] = conv.mapping_to_dict(workflow.subprocesses)
            dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
            dct[self.full.VERSION_KEY] = self.full.VERSION
            return json.dumps(dct, cls=self.full._encoder_cls, separators=(",", ":"))
        finally:
            self.registry._encoder_mode = False

    def load_state(self, state: str | bytes, spec: Any, subprocess_specs: dict) -> BpmnWorkflow:
        """Rebuild a workflow from `dump_state` output and an already parsed spec."""
        dct = json.loads(state, cls=self.full.json_decoder_cls)
        conv = self._workflow_converter()
        dct.pop(self.full.VERSION_KEY, None)
        workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
        workflow.tasks = conv.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        conv.set_default_attributes(workflow, dct)
        conv.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


SERIALIZER = StateSerializer()
