"""Copy task data and data objects by walking their JSON values, not with `copy.deepcopy`.

SpiffWorkflow deep-copies a data object into a task's data on every data input, back on
every data output, a call activity's data in and out, and each item of a multi-instance
activity; caseflow copies the data objects before each decision to tell what it changed.
`copy.deepcopy` keeps a memo and looks up a copier per value, which made these copies a
tenth of a `fraud_case` talk step and a twentieth of a screening import. The values are
JSON (the state is stored as JSON), so a direct walk of dicts and lists gives the same
copy. Anything else (a Decimal, a date, a tuple) still goes to `copy.deepcopy`.

One difference is deliberate: two references to one list become two lists, as they do
anyway once the state has been stored and loaded.
"""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.bpmn.specs import data_spec
from SpiffWorkflow.bpmn.specs.mixins import multiinstance_task, subworkflow_task

_ATOMS = frozenset({str, int, float, bool, type(None)})


def copy_data(value: Any) -> Any:
    """Return a copy of `value` that shares no dict or list with it."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _ATOMS else copy_data(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else copy_data(v) for v in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


def install_data_copy() -> None:
    """Make SpiffWorkflow's data-object, call-activity and multi-instance copies use it."""
    for module in (data_spec, subworkflow_task, multiinstance_task):
        module.deepcopy = copy_data  # type: ignore[attr-defined]
