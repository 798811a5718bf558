"""Plain values the engine hands to the rest of caseflow (no SpiffWorkflow objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EngineError(Exception):
    """A request the engine cannot carry out (unknown task, task not ready, no such message)."""


class ProcessFault(Exception):
    """A deployed process failed at one of its elements: a script, condition or decision
    raised an error or ran too long. Nothing of the step may be saved; the model needs
    fixing, so trying again will not help."""

    def __init__(self, element_id: str, element_name: str, reason: str) -> None:
        super().__init__(f"{element_name or element_id} ({element_id}): {reason}")
        self.element_id, self.element_name, self.reason = element_id, element_name, reason


@dataclass(frozen=True)
class HumanTask:
    """A READY user or manual task, as the app needs it to write a task row."""

    id: str
    spec_id: str
    name: str
    lane: str | None
    process_id: str
    properties: dict[str, str]
    instructions: str | None
    due_value: str | None


@dataclass(frozen=True)
class PendingTimer:
    """A timer event waiting to fire."""

    task_id: str
    event_id: str
    due_at: datetime


@dataclass(frozen=True)
class EngineEvent:
    """Something the engine did on its own: a decision, a gateway, a timer, an escalation."""

    type: str
    element_id: str
    name: str
    detail: dict[str, Any]
    notify: tuple[str, ...] = field(default=())
