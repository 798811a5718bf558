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
    fixing, so trying again will not help.

    `error_type` and `where` (the expression, or the script's line) come from the model;
    `detail`, the error's own message, may quote the case's data.
    """

    def __init__(self, element_id: str, element_name: str, error_type: str, detail: str,
                 model_text: str = "", line: int | None = None) -> None:
        self.element_id, self.element_name = element_id, element_name
        self.error_type, self.detail = error_type, detail
        self.model_text, self.line = model_text, line
        super().__init__(f"{element_name or element_id} ({element_id}): {self.reason}")

    @property
    def where(self) -> str:
        """Return the failing expression, or the script's line with its number."""
        if not self.model_text:
            return ""
        return f"line {self.line}: {self.model_text}" if self.line else self.model_text

    @property
    def reason(self) -> str:
        """Return the error and where in the model it happened."""
        text = f"{self.error_type}: {self.detail}" if self.detail else self.error_type
        return f"{text} (in {self.where})" if self.where else text


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
