"""Tests for caseflow.engine.parsing: every file gives a report, never a traceback."""

from pathlib import Path

import pytest
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow

from caseflow.engine.parsing import (
    BpmnCheckError,
    BpmnProblem,
    check_files,
    hit_policy_problems,
    make_parser,
    parse_bundle,
)

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
REFERENCE = sorted((TESTDATA / "bpmn-miwg-reference").glob("*.bpmn"))
SEQ10 = TESTDATA / "bench" / "seq10.bpmn"

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Defs" targetNamespace="http://caseflow.test">\n'
)


def bpmn(body: str, executable: str = "true") -> bytes:
    return (f'{HEAD}<bpmn:process id="P" isExecutable="{executable}">\n{body}\n'
            "</bpmn:process>\n</bpmn:definitions>\n").encode()


def flow(fid: str, src: str, dst: str, condition: str | None = None) -> str:
    cond = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}">{cond}'
            "</bpmn:sequenceFlow>")


def timer_process(expression: str) -> bytes:
    return bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "U")}
<bpmn:userTask id="U"/>
{flow("f2", "U", "E")}
<bpmn:endEvent id="E"/>
<bpmn:boundaryEvent id="Timer_1" attachedToRef="U" cancelActivity="false">
  <bpmn:timerEventDefinition id="TED_1">
    <bpmn:timeDuration>{expression}</bpmn:timeDuration>
  </bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
{flow("f3", "Timer_1", "E2")}
<bpmn:endEvent id="E2"/>""")


def rule_process(decision: str) -> bytes:
    return bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "BR")}
<bpmn:businessRuleTask id="BR">
  <bpmn:extensionElements>
    <spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId>
  </bpmn:extensionElements>
</bpmn:businessRuleTask>
{flow("f2", "BR", "U")}
<bpmn:userTask id="U"/>
{flow("f3", "U", "E")}
<bpmn:endEvent id="E"/>""")


def dmn(*decisions: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="DRD" '
            'name="rules" namespace="http://caseflow.test">\n'
            + "\n".join(decisions) + "\n</definitions>\n").encode()


def decision(did: str, policy: str = 'hitPolicy="FIRST"',
             rules: tuple[tuple[str, str], ...] = (("&gt; 10", '"high"'), ("-", '"low"'))) -> str:
    rows = "\n".join(
        f'<rule id="{did}_r{i}"><inputEntry id="{did}_i{i}"><text>{cell}</text></inputEntry>'
        f'<outputEntry id="{did}_o{i}"><text>{out}</text></outputEntry></rule>'
        for i, (cell, out) in enumerate(rules, 1))
    return (f'<decision id="{did}" name="{did}"><decisionTable id="{did}_t" {policy}>'
            f'<input id="{did}_in" label="amount"><inputExpression id="{did}_ie" typeRef="number">'
            f'<text>amount</text></inputExpression></input>'
            f'<output id="{did}_out" name="level" typeRef="string"/>{rows}'
            "</decisionTable></decision>")


def line_of(source: bytes, text: str) -> int:
    return next(i for i, line in enumerate(source.decode().splitlines(), 1) if text in line)


def one(name: str, data: bytes):
    [report] = check_files({name: data})
    return report


# --- the 21 reference models ------------------------------------------------------------


def test_reference_suite_is_present():
    assert len(REFERENCE) == 21


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_reference_file_gives_a_report(path: Path):
    report = one(path.name, path.read_bytes())
    assert report.file == path.name
    assert report.ok == (not report.problems)
    for problem in report.problems:
        assert problem.reason.strip()
        assert problem.element_id and problem.tag and problem.line
        assert "cannot load it" not in problem.reason  # no unmapped exception
        assert problem.file == path.name


def test_reference_files_checked_together():
    files = {p.name: p.read_bytes() for p in REFERENCE}
    reports = check_files(files)
    assert [r.file for r in reports] == list(files)
    assert all(r.problems for r in reports)  # all are descriptive, none runs as is


# --- files that are not BPMN at all ----------------------------------------------------


def test_seq10_is_ok():
    report = one("seq10.bpmn", SEQ10.read_bytes())
    assert report.ok, report.problems
    assert report.process_ids == ("Process_seq10",)


def test_malformed_xml_reports_its_line():
    source = HEAD + '<bpmn:process id="P">\n<bpmn:task id="T">\n</bpmn:process>\n'
    [problem] = one("bad.bpmn", source.encode()).problems
    assert problem.line == 5
    assert "not well-formed XML" in problem.reason
    assert str(problem).startswith("bad.bpmn:5: ")


@pytest.mark.parametrize(("data", "words"), [
    (b"", "is empty"),
    (b"  \n\t ", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not well-formed XML"),
    (b"<!DOCTYPE html><html><body><p>Hi</body></html>", "not well-formed XML"),
    (b"<html><body>hi</body></html>", "is not BPMN: its root element is <html>"),
    (b'<?xml version="1.0"?><note><to>x</to></note>', "root element is <note>"),
])
def test_junk_gives_a_clear_problem(data: bytes, words: str):
    report = one("junk.bpmn", data)
    assert not report.ok
    assert words in report.problems[0].reason


def test_unknown_extension():
    assert "neither a .bpmn nor a .dmn" in one("x.txt", b"hello").problems[0].reason


def test_schema_error_names_the_line():
    source = bpmn('<bpmn:startEvent id="S"/>\n<bpmn:task id="T"><bpmn:bogus/></bpmn:task>')
    [problem] = one("xsd.bpmn", source).problems
    assert "schema" in problem.reason and "bogus" in problem.reason
    assert problem.line == line_of(source, "bogus") and problem.element_id == "T"


def test_no_executable_process_is_a_problem_not_an_exception():
    source = bpmn('<bpmn:startEvent id="S"/>', executable="false")
    report = one("descr.bpmn", source)
    assert 'has no executable process (isExecutable="true")' in report.problems[0].reason
    with pytest.raises(BpmnCheckError) as err:
        parse_bundle({"descr.bpmn": source})
    assert "descr.bpmn" in str(err.value)


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


# --- BPMN rules beyond SpiffWorkflow's --------------------------------------------------


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


def test_syntax_errors_in_conditions_and_scripts_name_the_element():
    source = bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "Script_1")}
<bpmn:scriptTask id="Script_1"><bpmn:script>x = = 1</bpmn:script></bpmn:scriptTask>
{flow("f2", "Script_1", "G")}
<bpmn:exclusiveGateway id="G" default="f4"/>
{flow("f3", "G", "E", "${{approved}}")}
{flow("f4", "G", "E")}
<bpmn:endEvent id="E"/>""")
    problems = one("code.bpmn", source).problems
    assert [(p.element_id, p.tag) for p in problems] == [
        ("Script_1", "scriptTask"), ("f3", "sequenceFlow")]
    assert all("is not Python" in p.reason for p in problems)


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


def test_error_start_event_of_event_subprocess_is_flagged():
    source = bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "E")}
<bpmn:endEvent id="E"/>
<bpmn:subProcess id="ES" triggeredByEvent="true">
  <bpmn:startEvent id="ES_start"><bpmn:errorEventDefinition id="ED"/></bpmn:startEvent>
  {flow("g1", "ES_start", "ES_end")}
  <bpmn:endEvent id="ES_end"/>
</bpmn:subProcess>""")
    [problem] = one("es.bpmn", source).problems
    assert problem.element_id == "ES_start" and "error" in problem.reason


def test_unreachable_task_is_flagged():
    source = bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "E")}
<bpmn:endEvent id="E"/>
<bpmn:task id="Lonely"/>""")
    [problem] = one("odd.bpmn", source).problems
    assert (problem.element_id, problem.tag) == ("Lonely", "task")
    assert "never runs it" in problem.reason


def test_complex_gateway_is_refused_by_name():
    source = bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "CG")}
<bpmn:complexGateway id="CG"/>
{flow("f2", "CG", "E")}
<bpmn:endEvent id="E"/>""")
    [problem] = one("complex.bpmn", source).problems
    assert (problem.element_id, problem.tag) == ("CG", "complexGateway")
    assert "cannot execute" in problem.reason


SILENT = {  # constructs SpiffWorkflow 3.2 would drop without a word
    "L": '<bpmn:intermediateThrowEvent id="L"><bpmn:linkEventDefinition name="go"/>'
         "</bpmn:intermediateThrowEvent>",
    "SigEnd": '<bpmn:endEvent id="SigEnd"><bpmn:signalEventDefinition/></bpmn:endEvent>',
    "T": '<bpmn:task id="T"><bpmn:dataOutputAssociation id="A"><bpmn:targetRef>DSR</bpmn:targetRef>'
         '</bpmn:dataOutputAssociation></bpmn:task><bpmn:dataStoreReference id="DSR"/>',
    "AH": '<bpmn:adHocSubProcess id="AH" ordering="Sequential"><bpmn:task id="a1"/>'
          "</bpmn:adHocSubProcess>",
    "f_cond": '<bpmn:task id="T2"/><bpmn:sequenceFlow id="f_cond" sourceRef="T2" targetRef="E9">'
              "<bpmn:conditionExpression>x &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>"
              '<bpmn:endEvent id="E9"/>',
}


@pytest.mark.parametrize("element_id", list(SILENT))
def test_silently_ignored_constructs_are_refused(element_id: str):
    body = SILENT[element_id]
    entry = "T2" if element_id == "f_cond" else element_id
    source = bpmn(f'<bpmn:startEvent id="S"/>{flow("f0", "S", entry)}{body}')
    problems = one("silent.bpmn", source).problems
    assert element_id in {p.element_id for p in problems}, problems


def test_flow_into_another_pool_and_doctype_entities():
    two = (HEAD + '<bpmn:process id="P"><bpmn:startEvent id="S"/>' + flow("f1", "S", "X")
           + '</bpmn:process><bpmn:process id="Q"><bpmn:task id="X"/></bpmn:process>'
           "</bpmn:definitions>").encode()
    problems = one("pools.bpmn", two).problems
    assert ("f1", "sequenceFlow") in {(p.element_id, p.tag) for p in problems}
    bomb = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>'
            + HEAD.split("\n", 1)[1].encode() + b"&a;</bpmn:definitions>")
    assert "DOCTYPE" in one("bomb.bpmn", bomb).problems[0].reason


def test_data_object_two_levels_up_is_refused_before_spiffworkflow_hangs():
    inner = f"""<bpmn:startEvent id="S2"/>{flow("h1", "S2", "T")}
<bpmn:task id="T"><bpmn:dataOutputAssociation id="a1"><bpmn:targetRef>DOR</bpmn:targetRef>
</bpmn:dataOutputAssociation></bpmn:task>{flow("h2", "T", "E2")}<bpmn:endEvent id="E2"/>
<bpmn:dataObjectReference id="DOR" dataObjectRef="DO1"/>"""
    source = bpmn(f"""<bpmn:dataObject id="DO1"/><bpmn:startEvent id="S"/>
{flow("f1", "S", "SP1")}
<bpmn:subProcess id="SP1"><bpmn:startEvent id="S1"/>{flow("g1", "S1", "SP2")}
<bpmn:subProcess id="SP2">{inner}</bpmn:subProcess>{flow("g2", "SP2", "E1")}
<bpmn:endEvent id="E1"/></bpmn:subProcess>""")
    [problem] = one("nested.bpmn", source).problems
    assert problem.element_id == "T" and "DO1" in problem.reason


def test_spiffworkflow_own_errors_are_mapped_with_element_and_line():
    source = bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "T")}
<bpmn:task id="T"/>
{flow("f2", "T", "E")}
{flow("f3", "T", "E")}
<bpmn:endEvent id="E"/>""")
    [problem] = one("split.bpmn", source).problems
    assert (problem.element_id, problem.tag) == ("T", "task")
    assert problem.line == line_of(source, '<bpmn:task id="T"/>')
    assert "gateway" in problem.reason


def test_call_activity_resolves_across_files():
    caller = bpmn(f"""<bpmn:startEvent id="S"/>{flow("f1", "S", "Call")}
<bpmn:callActivity id="Call" calledElement="Callee"/>{flow("f2", "Call", "E")}
<bpmn:endEvent id="E"/>""")
    callee = (HEAD + '<bpmn:process id="Callee" isExecutable="true"><bpmn:startEvent id="CS"/>'
              + flow("c1", "CS", "CE") + '<bpmn:endEvent id="CE"/></bpmn:process>'
              "</bpmn:definitions>").encode()
    assert "'Callee'" in one("caller.bpmn", caller).problems[0].reason
    bundle = parse_bundle({"caller.bpmn": caller, "callee.bpmn": callee})
    assert bundle.process_ids == {"P": "caller.bpmn", "Callee": "callee.bpmn"}
    assert set(bundle.spec("P")[1]) == {"Callee"}


# --- parse_bundle ------------------------------------------------------------------------


def test_parse_bundle_seq10_runs_to_its_first_user_task():
    bundle = parse_bundle({"seq10.bpmn": SEQ10.read_bytes()})
    assert bundle.process_ids == {"Process_seq10": "seq10.bpmn"}
    spec, subs = bundle.spec("Process_seq10")
    workflow = BpmnWorkflow(spec, subs)
    workflow.do_engine_steps()
    [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert task.task_spec.name == "Task_1"


def test_parse_bundle_collects_every_problem():
    with pytest.raises(BpmnCheckError) as err:
        parse_bundle({"a.bpmn": b"", "b.dmn": dmn(decision("d", 'hitPolicy="ANY"')),
                      "seq10.bpmn": SEQ10.read_bytes()})
    assert [p.file for p in err.value.problems] == ["a.bpmn", "b.dmn"]
    assert str(err.value).count("\n") == 1
    with pytest.raises(BpmnCheckError):
        parse_bundle({})


def test_problem_str_and_parser():
    problem = BpmnProblem("A.2.0.bpmn", "needs an operator", "Task_1", "serviceTask", 57)
    assert str(problem) == "A.2.0.bpmn:57: serviceTask 'Task_1': needs an operator"
    assert str(BpmnProblem("x.dmn", "is empty")) == "x.dmn: is empty"
    assert make_parser().validator is not None


def test_reserved_spiffworkflow_ids_are_refused():
    from tests.bpmn_snippets import script_process

    source = script_process("reserved_ids", "x = 1").replace(b"StartEvent", b"Start")
    [report] = check_files({"reserved.bpmn": source})
    assert not report.ok
    assert report.problems[0].element_id == "Start" and "reserves" in report.problems[0].reason
