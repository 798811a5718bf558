"""Per-process modules: human-task forms, lane → role maps, and functions BPMN may call.

A process `x` is described by the module `workflows.x`, which defines:

- ``LANES``: lane name (as drawn, e.g. 辅导员) → caseflow role (``counselor``, …,
  or the pseudo-role ``lead_office``);
- ``FORMS``: user/manual task id → marshmallow schema class;
- optionally ``FUNCTIONS``: name → pure function BPMN scripts may call.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

_EXTRA: dict[str, Any] = {}


class UnknownProcess(LookupError):
    """No workflows module describes this process."""


def register(process_id: str, module: Any) -> None:
    """Describe a process with an object other than workflows.<process_id> (tests, plugins)."""
    _EXTRA[process_id] = module


def unregister(process_id: str) -> None:
    """Forget a process registered with `register`."""
    _EXTRA.pop(process_id, None)


def describe(process_id: str) -> ModuleType | Any:
    """Return the module describing `process_id`."""
    if process_id in _EXTRA:
        return _EXTRA[process_id]
    if not process_id.isidentifier():
        raise UnknownProcess(f"no workflows module for process {process_id!r}")
    try:
        return importlib.import_module(f"workflows.{process_id}")
    except ModuleNotFoundError as exc:
        if exc.name == f"workflows.{process_id}":
            raise UnknownProcess(
                f"no workflows module for process {process_id!r}: "
                f"add workflows/{process_id}.py (or a package) with LANES and FORMS"
            ) from exc
        raise


def lanes(process_id: str) -> dict[str, str]:
    """Return the lane name → role map of a process."""
    return dict(getattr(describe(process_id), "LANES", {}))


def form(process_id: str, task_spec: str) -> Any | None:
    """Return the marshmallow schema class of a human task, or None."""
    return getattr(describe(process_id), "FORMS", {}).get(task_spec)


def functions(process_id: str) -> dict[str, Any]:
    """Return the pure helper functions a process's scripts may call."""
    return dict(getattr(describe(process_id), "FUNCTIONS", {}))
