"""The two triage tables, run by SpiffWorkflow's DMN engine under caseflow's sandbox.

A tiny wrapper process puts the facts into a `case_facts` data object and calls both
decisions exactly as fraud_case does; the matched rows are read back from the same
engine, so every row of both tables is shown to be reachable and every boundary of
SPEC.md "Triage rules" gives the documented risk level and flag set.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from caseflow.engine.runtime import Run
from caseflow.engine.specs import ParsedProcess
from tests.workflows.conftest import DMN_FILES, FUNCTIONS, T0, iso

WRAPPER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_triage_wrapper" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="triage_wrapper" isExecutable="true">
    <bpmn:dataObject id="case_facts"/>
    <bpmn:dataObjectReference id="ref" dataObjectRef="case_facts"/>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="load">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:dataOutputAssociation id="o1">
        <bpmn:targetRef>ref</bpmn:targetRef>
      </bpmn:dataOutputAssociation>
      <bpmn:script>case_facts = dict(facts)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:businessRuleTask id="triage">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>fraud_case_triage</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:property id="p_triage" name="__targetRef_placeholder"/>
      <bpmn:dataInputAssociation id="i2">
        <bpmn:sourceRef>ref</bpmn:sourceRef><bpmn:targetRef>p_triage</bpmn:targetRef>
      </bpmn:dataInputAssociation>
      <bpmn:dataOutputAssociation id="o2">
        <bpmn:targetRef>ref</bpmn:targetRef>
      </bpmn:dataOutputAssociation>
    </bpmn:businessRuleTask>
    <bpmn:businessRuleTask id="flags">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>fraud_case_flags</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:property id="p_flags" name="__targetRef_placeholder"/>
      <bpmn:dataInputAssociation id="i3">
        <bpmn:sourceRef>ref</bpmn:sourceRef><bpmn:targetRef>p_flags</bpmn:targetRef>
      </bpmn:dataInputAssociation>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="load"/>
    <bpmn:sequenceFlow id="f2" sourceRef="load" targetRef="triage"/>
    <bpmn:sequenceFlow id="f3" sourceRef="triage" targetRef="flags"/>
    <bpmn:sequenceFlow id="f4" sourceRef="flags" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

TRIAGE_ROWS = [f"fraud_case_triage_rule_{n}" for n in range(1, 10)]
FLAG_ROWS = [f"fraud_case_flags_rule_{n}" for n in range(1, 16)]
ALL_FLAGS = {"major", "need_stop_payment", "need_police", "need_psych", "need_parent_contact",
             "need_discipline", "need_class_lesson"}


@pytest.fixture(scope="module")
def wrapper() -> ParsedProcess:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(WRAPPER.encode("utf-8"))
    parser.add_dmn_files([str(p) for p in DMN_FILES])
    return ParsedProcess("triage_wrapper", "test", parser.get_spec("triage_wrapper"),
                         parser.get_subprocess_specs("triage_wrapper"))


def facts(**overrides: Any) -> dict[str, Any]:
    base = {"category": "victim", "loss_cny": "0.00", "hours_since_transfer": None,
            "ongoing": "unknown", "crisis_sign": False, "repeated_victim": False,
            "psych_watch": False, "hardship": False, "public_opinion_risk": False,
            "minor": False}
    base.update(overrides)
    return base


def triage(wrapper: ParsedProcess, **overrides: Any) -> dict[str, Any]:
    """Run both decisions; return the level, the flags and the rows that matched."""
    given = facts(**overrides)
    run, events = Run.start(wrapper, {"facts": given}, FUNCTIONS)
    assert run.completed
    by_id = {e.element_id: e for e in events if e.type == "decision_made"}
    level = by_id["triage"].detail["outputs"]["case_facts"]["risk_level"]
    flags = by_id["flags"].detail["outputs"].get("triage_flags", [])
    rows = {}
    for spec_id in ("triage", "flags"):
        task = next(t for t in run.workflow.get_tasks() if t.task_spec.bpmn_id == spec_id)
        task.data["case_facts"] = dict(given)
        rows[spec_id] = [r.id for r in task.task_spec.dmnEngine.decide(task)]
        task.data.pop("case_facts")
    return {"level": level, "flags": set(flags), "triage_rows": rows["triage"],
            "flag_rows": rows["flags"], "first": rows["triage"][0]}


# --------------------------------------------------------------------------- tables
def test_tables_are_as_the_spec_says():
    ns = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
    tri = etree.parse(str(DMN_FILES[0])).getroot()
    fl = etree.parse(str(DMN_FILES[1])).getroot()
    assert len(tri.findall("dmn:decision", ns)) == 1 and len(fl.findall("dmn:decision", ns)) == 1
    t_table = tri.find("dmn:decision/dmn:decisionTable", ns)
    f_table = fl.find("dmn:decision/dmn:decisionTable", ns)
    assert t_table.get("hitPolicy") == "FIRST"
    assert f_table.get("hitPolicy") == "COLLECT"
    assert [o.get("name") for o in t_table.findall("dmn:output", ns)] == ["case_facts.risk_level"]
    assert [o.get("name") for o in f_table.findall("dmn:output", ns)] == ["triage_flags"]
    assert [r.get("id") for r in t_table.findall("dmn:rule", ns)] == TRIAGE_ROWS
    assert [r.get("id") for r in f_table.findall("dmn:rule", ns)] == FLAG_ROWS
    # the rows in the spec's order: four red, four orange, the catch-all yellow
    outputs = [r.find("dmn:outputEntry/dmn:text", ns).text
               for r in t_table.findall("dmn:rule", ns)]
    assert outputs == ['"red"'] * 4 + ['"orange"'] * 4 + ['"yellow"']
    for table in (t_table, f_table):
        for expr in table.findall("dmn:input/dmn:inputExpression/dmn:text", ns):
            assert "case_facts[" in expr.text
    money = [e.text for e in t_table.findall("dmn:input/dmn:inputExpression/dmn:text", ns)
             if "loss_cny" in e.text]
    assert money == ["Decimal(case_facts['loss_cny'])"]


# --------------------------------------------------------------------------- every row
ROW_CASES = [
    # (facts, first triage row, level)
    ({"crisis_sign": True, "category": "at_risk"}, 1, "red"),
    ({"ongoing": "yes", "category": "at_risk"}, 2, "red"),
    ({"hours_since_transfer": 2.0, "loss_cny": "100.00"}, 3, "red"),
    ({"loss_cny": "10000.00"}, 4, "red"),
    ({"loss_cny": "3000.00"}, 5, "orange"),
    ({"category": "involved"}, 6, "orange"),
    ({"category": "at_risk", "repeated_victim": True}, 7, "orange"),
    ({"psych_watch": True}, 8, "orange"),
    ({"category": "involved", "hardship": True, "loss_cny": "0.00"}, 6, "orange"),
    ({"hardship": True}, 8, "orange"),
    ({"category": "at_risk"}, 9, "yellow"),
]


@pytest.mark.parametrize(("given", "row", "level"), ROW_CASES)
def test_triage_rows(wrapper, given, row, level):
    result = triage(wrapper, **given)
    assert result["first"] == f"fraud_case_triage_rule_{row}"
    assert result["level"] == level


FLAG_CASES = [
    ({"crisis_sign": True, "category": "at_risk"}, {1, 9, 12},
     {"major", "need_psych", "need_parent_contact"}),
    ({"loss_cny": "50000.00"}, {2, 6, 8, 12, 14},
     {"major", "need_police", "need_psych", "need_parent_contact", "need_class_lesson"}),
    ({"category": "at_risk", "public_opinion_risk": True}, {3, 12},
     {"major", "need_parent_contact"}),
    ({"category": "involved", "minor": True}, {4, 7, 12, 13, 15},
     {"major", "need_police", "need_parent_contact", "need_discipline", "need_class_lesson"}),
    ({"hours_since_transfer": 1.0, "loss_cny": "0.00"}, {5, 12},
     {"need_stop_payment", "need_parent_contact"}),
    ({"category": "at_risk", "repeated_victim": True}, {10, 12},
     {"need_psych", "need_parent_contact"}),
    ({"category": "involved", "psych_watch": True}, {7, 11, 12, 13, 15},
     {"need_police", "need_psych", "need_parent_contact", "need_discipline",
      "need_class_lesson"}),
    ({"category": "at_risk", "minor": True, "psych_watch": True}, {12},
     {"need_parent_contact"}),
]


@pytest.mark.parametrize(("given", "rows", "flags"), FLAG_CASES)
def test_flag_rows(wrapper, given, rows, flags):
    result = triage(wrapper, **given)
    assert set(result["flag_rows"]) == {f"fraud_case_flags_rule_{n}" for n in rows}
    assert result["flags"] == flags


def test_every_row_of_both_tables_is_hit(wrapper):
    first_rows = {triage(wrapper, **g)["first"] for g, _, _ in ROW_CASES}
    assert first_rows == set(TRIAGE_ROWS)
    flag_rows = set()
    for g, _, _ in FLAG_CASES:
        flag_rows |= set(triage(wrapper, **g)["flag_rows"])
    assert flag_rows == set(FLAG_ROWS)


# --------------------------------------------------------------------------- boundaries
VICTIM_LOSS = {"need_police", "need_psych", "need_parent_contact", "need_class_lesson"}

BOUNDARIES = [
    ("no loss", {"loss_cny": "0.00"}, "yellow", {"need_parent_contact"}),
    ("one fen", {"loss_cny": "0.01"}, "orange", VICTIM_LOSS),
    ("9,999.99", {"loss_cny": "9999.99"}, "orange", VICTIM_LOSS),
    ("10,000", {"loss_cny": "10000.00"}, "red", VICTIM_LOSS),
    ("49,999.99", {"loss_cny": "49999.99"}, "red", VICTIM_LOSS),
    ("50,000", {"loss_cny": "50000.00"}, "red", VICTIM_LOSS | {"major"}),
    ("exactly 24 h", {"loss_cny": "500.00", "hours_since_transfer": 24.0}, "red",
     VICTIM_LOSS | {"need_stop_payment"}),
    ("24 h + 1 min", {"loss_cny": "500.00", "hours_since_transfer": 24 + 1 / 60}, "orange",
     VICTIM_LOSS),
    ("no transfer", {"loss_cny": "500.00", "hours_since_transfer": None}, "orange",
     VICTIM_LOSS),
    ("ongoing unknown", {"category": "at_risk", "ongoing": "unknown"}, "yellow",
     {"need_parent_contact"}),
    ("ongoing no", {"category": "at_risk", "ongoing": "no"}, "yellow",
     {"need_parent_contact"}),
    ("ongoing yes", {"category": "at_risk", "ongoing": "yes"}, "red",
     {"need_parent_contact"}),
]


@pytest.mark.parametrize(("label", "given", "level", "flags"), BOUNDARIES,
                         ids=[b[0] for b in BOUNDARIES])
def test_boundaries(wrapper, label, given, level, flags):
    result = triage(wrapper, **given)
    assert (result["level"], result["flags"]) == (level, flags), label


def test_money_is_compared_as_decimal_not_float(wrapper):
    # 0.1 + 0.2 style float noise must not move 9,999.99 over the line
    assert Decimal("9999.99") < 10000
    assert triage(wrapper, loss_cny="9999.990")["level"] == "orange"


@pytest.mark.parametrize(("hours_ago", "level", "stop"), [
    (timedelta(hours=24), "red", True),
    (timedelta(hours=24, minutes=1), "orange", False),
])
def test_transfer_boundary_through_the_process(open_case, hours_ago, level, stop):
    """The clock is pinned: exactly 24 h since the transfer still counts as within 24 h."""
    case = open_case(loss_cny="500", last_transfer_at=iso(T0 - hours_ago))
    assert case.facts["hours_since_transfer"] == hours_ago.total_seconds() / 3600
    assert case.facts["risk_level"] == level
    assert case.facts["flags"]["need_stop_payment"] is stop
    assert ("stop_payment" in case.open_ids()) is stop
