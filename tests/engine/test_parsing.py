"""Tests for caseflow.engine.parsing: every file gives a report, never a traceback."""

from pathlib import Path

import pytest
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow

from caseflow.engine.parsing import (
    BpmnCheckError,
    BpmnProblem,
    check_files,
    make_parser,
    parse_bundle,
)
from tests.bpmn_snippets import HEAD
from tests.engine.sources import bpmn, decision, dmn, flow, line_of, one

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
REFERENCE = sorted((TESTDATA / "bpmn-miwg-reference").glob("*.bpmn"))
SEQ10 = TESTDATA / "bench" / "seq10.bpmn"


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


# --- BPMN rules beyond SpiffWorkflow's --------------------------------------------------


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
