"""Draw a case's process diagram with the steps done, current, overdue and not reached.

The marks come from the task rows and the audit events (`task_completed`,
`gateway_passed`, `timer_fired`, …); the workflow itself is never loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from caseflow.diagram import DiagramError, render_svg
from caseflow.models import TaskRow
from caseflow.services.bpmninfo import BpmnInfo

EVENT_ELEMENTS = ("decision_made", "gateway_passed", "timer_fired", "escalation_raised",
                  "event_thrown")


@dataclass(frozen=True)
class Marks:
    """Run states of the elements of one case's diagram."""

    marks: dict[str, str]
    taken: frozenset[str]
    overdue: frozenset[str]


def _task_marks(tasks: Iterable[TaskRow], now: datetime) -> tuple[dict[str, str], set[str]]:
    marks: dict[str, str] = {}
    overdue: set[str] = set()
    for t in tasks:  # in creation order: a later row of a repeated step wins
        if t.state == "ready":
            marks[t.task_spec] = "current"
            if t.due_at is not None and t.due_at < now:
                overdue.add(t.task_spec)
        elif marks.get(t.task_spec) != "current":
            marks[t.task_spec] = "completed" if t.state == "completed" else "cancelled"
    return marks, overdue


def _event_marks(info: BpmnInfo, events: Iterable[tuple[Any, Mapping[str, Any]]],
                 marks: dict[str, str]) -> dict[str, set[str]]:
    """Mark engine-run elements completed; return gateway → elements it chose."""
    chosen: dict[str, set[str]] = {}
    for ev, detail in events:
        if ev.event_type == "task_completed" and detail.get("step"):
            marks.setdefault(str(detail["step"]), "completed")
        elif ev.event_type in EVENT_ELEMENTS and detail.get("element"):
            element = detail["element"]
            marks.setdefault(str(element), "completed")
            if ev.event_type == "gateway_passed":
                chosen.setdefault(str(element), set()).update(
                    info.element(str(t)) for t in detail.get("taken", []))
    return chosen


AUTOMATIC = {"scriptTask", "serviceTask", "businessRuleTask", "sendTask", "task", "endEvent",
             "intermediateThrowEvent", "startEvent", "exclusiveGateway", "inclusiveGateway",
             "parallelGateway"}


def _graph(info: BpmnInfo) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for source, target in info.flows.values():
        incoming.setdefault(target, []).append(source)
        outgoing.setdefault(source, []).append(target)
    return incoming, outgoing


def _fill_automatic(info: BpmnInfo, marks: dict[str, str], chosen: Mapping[str, set[str]]
                    ) -> None:
    """Mark steps the engine ran unrecorded (start events, scripts, joins, end events)."""
    incoming, outgoing = _graph(info)
    for targets in chosen.values():
        for target in targets:
            if info.kinds.get(target) in AUTOMATIC:
                marks.setdefault(target, "completed")
    todo = list(marks)
    while todo:
        element = todo.pop()
        sources = incoming.get(element, [])
        if (len(sources) == 1 and sources[0] not in marks
                and _automatic(info, sources[0], incoming, marks, back=True)):
            marks[sources[0]] = "completed"
            todo.append(sources[0])
        if marks.get(element) != "completed" or element in chosen:
            continue
        nexts = outgoing.get(element, [])
        if len(nexts) == 1 or info.kinds.get(element) == "parallelGateway":
            for target in nexts:
                if target not in marks and _automatic(info, target, incoming, marks):
                    marks[target] = "completed"
                    todo.append(target)


def _automatic(info: BpmnInfo, element: str, incoming: Mapping[str, list[str]],
               marks: Mapping[str, str], back: bool = False) -> bool:
    """Say whether the engine passes `element` by itself once the flow reaches it."""
    kind = info.kinds.get(element, "")
    if kind not in AUTOMATIC:
        return False
    if kind == "parallelGateway" and not back:
        return all(s in marks for s in incoming.get(element, []))
    return True


def _taken(info: BpmnInfo, marks: Mapping[str, str], chosen: Mapping[str, set[str]]
           ) -> frozenset[str]:
    taken = set()
    for flow_id, (source, target) in info.flows.items():
        if source not in marks or target not in marks:
            continue
        if source in chosen and target not in chosen[source]:
            continue
        taken.add(flow_id)
    return frozenset(taken)


def compute(info: BpmnInfo, tasks: Iterable[TaskRow],
            events: Iterable[tuple[Any, Mapping[str, Any]]], now: datetime) -> Marks:
    """Return the marks of a case's diagram from its task rows and audit events."""
    marks, overdue = _task_marks(tasks, now)
    chosen = _event_marks(info, events, marks)
    for boundary, activity in info.attached.items():
        if boundary in marks and activity not in marks:
            marks[activity] = "completed"
    _fill_automatic(info, marks, chosen)
    known = {k: v for k, v in marks.items() if k in info.kinds}
    return Marks(known, _taken(info, known, chosen), frozenset(overdue & set(known)))


@lru_cache(maxsize=512)
def _render(source: str, marks: tuple[tuple[str, str], ...], taken: frozenset[str],
            overdue: frozenset[str], labels: tuple[tuple[str, str], ...]) -> str:
    return render_svg(source, marks=dict(marks), taken_flows=taken, overdue=overdue,
                      labels=dict(labels)).svg


def svg(info: BpmnInfo, marks: Marks, labels: Mapping[str, str]) -> str | None:
    """Return the diagram as SVG text (None when the model has no diagram)."""
    if not info.source:
        return None
    try:
        return _render(info.source, tuple(sorted(marks.marks.items())), marks.taken,
                       marks.overdue, tuple(sorted(labels.items())))
    except DiagramError:
        return None
