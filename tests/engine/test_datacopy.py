"""Task data and data objects are copied by walking their JSON values."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from SpiffWorkflow.bpmn.specs import data_spec
from SpiffWorkflow.bpmn.specs.mixins import multiinstance_task, subworkflow_task

from caseflow.engine import Run
from caseflow.engine.datacopy import copy_data
from caseflow.engine.scripting import make_script_engine

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=40,
)


def _containers(value: object) -> list[int]:
    """Return the ids of every dict and list inside `value`, itself included."""
    if isinstance(value, dict):
        return [id(value), *(i for v in value.values() for i in _containers(v))]
    if isinstance(value, list):
        return [id(value), *(i for v in value for i in _containers(v))]
    return []


@given(JSON)
def test_a_copy_equals_the_deep_copy_and_shares_no_container(value):
    copied = copy_data(value)
    assert copied == copy.deepcopy(value)
    assert not set(_containers(copied)) & set(_containers(value))


def test_other_values_are_deep_copied():
    value = {"loss": Decimal("8000.00"), "on": date(2026, 12, 7), "pair": ([1], 2)}
    copied = copy_data(value)
    assert copied == value
    assert copied["pair"][0] is not value["pair"][0]


def test_changing_a_copy_leaves_the_original_alone():
    facts = {"flags": {"need_police": True}, "events": [{"n": 1}]}
    copied = copy_data(facts)
    copied["flags"]["need_police"] = False
    copied["events"][0]["n"] = 2
    assert facts == {"flags": {"need_police": True}, "events": [{"n": 1}]}


def test_spiffworkflow_copies_with_it():
    # importing the engine installs it where SpiffWorkflow copies data objects and call data
    assert Run is not None
    for module in (data_spec, subworkflow_task, multiinstance_task):
        assert module.deepcopy is copy_data


def test_the_syntax_check_of_dmn_cells_answers_as_before_when_cached():
    engine = make_script_engine()
    for _ in range(2):
        engine.validate("case_facts['loss_cny'] > 5")
        with pytest.raises(SyntaxError):
            engine.validate("> 5")
        engine.validate("v > 5")
