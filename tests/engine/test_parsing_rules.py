"""Tests for caseflow.engine.parsing's own rules on DMN tables, decisions and timers."""

import pytest
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow

from caseflow.engine.parsing import check_files, hit_policy_problems, parse_bundle
from tests.engine.sources import decision, dmn, one, rule_process, timer_process

# --- DMN ---------------------------------------------------------------------------------


def test_dmn_with_two_decisions_is_refused():
    [problem] = one("two.dmn", dmn(decision("d_one"), decision("d_two"))).problems
    assert "has 2 decisions; SpiffWorkflow reads one decision per .dmn file: split it" in (
        problem.reason)
    assert "d_one" in problem.reason and "d_two" in problem.reason


@pytest.mark.parametrize("policy", [
    'hitPolicy="ANY"', 'hitPolicy="PRIORITY"', 'hitPolicy="RULE ORDER"',
    'hitPolicy="OUTPUT ORDER"', 'hitPolicy="COLLECT" aggregation="SUM"',
    'hitPolicy="COLLECT" aggregation="COUNT"',
])
def test_hit_policies_the_engine_does_not_evaluate_are_refused(policy: str):
    source = dmn(decision("risk_level", policy))
    [problem] = one("risk.dmn", source).problems
    assert "risk_level" in problem.reason
    assert policy.split('"')[1] in problem.reason or policy.split('"')[3] in problem.reason
    assert problem.element_id == "risk_level" and problem.tag == "decision"
    assert hit_policy_problems("risk.dmn", source) == [problem]


@pytest.mark.parametrize("policy", ['hitPolicy="FIRST"', 'hitPolicy="UNIQUE"',
                                    'hitPolicy="COLLECT"', ""])
def test_first_unique_collect_are_accepted(policy: str):
    report = one("ok.dmn", dmn(decision("risk_level", policy)))
    assert report.ok, report.problems
    assert report.decision_ids == ("risk_level",)


def test_unique_with_identical_rows_is_refused():
    rules = (("&gt; 10", '"high"'), ("-", '"low"'), ("&gt; 10", '"very high"'))
    [problem] = one("dup.dmn", dmn(decision("risk", "", rules))).problems
    assert "UNIQUE" in problem.reason
    assert "'risk_r1'" in problem.reason and "'risk_r3'" in problem.reason


def test_dmn_cell_that_is_not_python():
    rules = (("[1..10]", '"low"'),)
    [problem] = one("feel.dmn", dmn(decision("risk", rules=rules))).problems
    assert "is not Python" in problem.reason and problem.element_id == "risk_i1"


# --- business rule tasks and timers ------------------------------------------------


def test_business_rule_task_calling_an_unknown_decision():
    files = {"flow.bpmn": rule_process("no_such_decision"),
             "rules.dmn": dmn(decision("risk_level"))}
    flow_report, dmn_report = check_files(files)
    assert dmn_report.ok
    [problem] = flow_report.problems
    assert problem.element_id == "BR" and problem.tag == "businessRuleTask"
    assert "no_such_decision" in problem.reason and "risk_level" in problem.reason


def test_business_rule_task_runs_its_decision():
    bundle = parse_bundle({"flow.bpmn": rule_process("risk_level"),
                           "rules.dmn": dmn(decision("risk_level"))})
    assert bundle.decision_ids == {"risk_level": "rules.dmn"}
    workflow = BpmnWorkflow(*bundle.spec("P"))
    workflow.get_tasks(state=TaskState.READY)[0].data["amount"] = 50
    workflow.do_engine_steps()
    [ready] = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert ready.data["level"] == "high"


@pytest.mark.parametrize("expression", ["PT30M", "P7D", "R3/PT1H", "2030-01-01T09:00:00Z"])
def test_unquoted_timer_is_flagged(expression: str):
    [problem] = one("timer.bpmn", timer_process(expression)).problems
    assert problem.element_id == "Timer_1" and problem.tag == "boundaryEvent"
    assert problem.reason == (f'timer expression is Python: write "{expression}" with quotes '
                              "or a variable name")


@pytest.mark.parametrize("expression", ['"PT30M"', "review_due", "timedelta_text + 'M'"])
def test_timer_that_is_python_is_accepted(expression: str):
    report = one("timer.bpmn", timer_process(expression))
    assert report.ok, report.problems
