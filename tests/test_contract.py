"""The contract between every process in bpmn/ and the app: forms, lanes, due times, timers,
and decision inputs. A failure names the file and the element."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from lxml import etree

import workflows
from caseflow.engine import split_bundle
from caseflow.engine.scripting import compile_expression
from caseflow.settings_defaults import DUE_TIMES

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core",
      "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
FILES = {p.name: p.read_bytes() for p in sorted(BPMN_DIR.iterdir())
         if p.suffix in (".bpmn", ".dmn")}
SOURCES = split_bundle(FILES)


def _xml(name: str) -> etree._Element:
    return etree.fromstring(FILES[name])


def _bpmn_file(source) -> str:
    return next(f for f in source.files if f.endswith(".bpmn"))


@pytest.fixture(params=SOURCES, ids=lambda s: s.process_id)
def source(request):
    return request.param


def test_every_lane_maps_to_a_role(source):
    lanes = workflows.lanes(source.process_id)
    for lane in source.lanes:
        assert lane in lanes, f"{_bpmn_file(source)}: lane {lane!r} maps to no role"


def _human_tasks(root: etree._Element):
    for tag in ("userTask", "manualTask"):
        yield from root.iterfind(f".//bpmn:{tag}", NS)


def test_every_human_task_has_a_form_and_a_due_time(source):
    name = _bpmn_file(source)
    for task in _human_tasks(_xml(name)):
        ident = f"{name}: {etree.QName(task).localname} {task.get('id')!r}"
        assert workflows.form(source.process_id, task.get("id")), f"{ident} has no form"
        due = task.find(".//spiff:property[@name='due']", NS)
        assert due is not None, f"{ident} has no 'due' property"
        compile_expression(due.get("value"))  # refuses code the sandbox would refuse
        for key in re.findall(r"due_time\(\s*['\"](\w+)['\"]", due.get("value")):
            assert key in DUE_TIMES, f"{ident}: due_time key {key!r} is not a setting"


def test_every_timer_expression_compiles_in_the_sandbox(source):
    name = _bpmn_file(source)
    root = _xml(name)
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for el in root.iterfind(f".//bpmn:{tag}", NS):
            event = el.getparent().getparent()
            ident = f"{name}: {etree.QName(event).localname} {event.get('id')!r}"
            text = (el.text or "").strip()
            assert text, f"{ident} has an empty timer"
            compile_expression(text)
            assert not re.fullmatch(r"R?\d*/?P[\dTHMSDW]+", text), (
                f"{ident}: timer {text!r} is Python: quote it or use a variable")


def _written_names(source) -> set[str]:
    """Names a process writes: script targets, data objects, start keys, helper code."""
    names: set[str] = set()
    module = workflows.describe(source.process_id)
    names.update(getattr(module, "START_KEYS", ()))
    names.update(getattr(module, "CASE_FACTS_KEYS", ()))
    for file in source.files:
        if not file.endswith(".bpmn"):
            continue
        root = _xml(file)
        names.update(el.get("id") for el in root.iterfind(".//bpmn:dataObject", NS))
        for script in root.iterfind(".//bpmn:script", NS):
            for node in ast.walk(ast.parse(script.text or "")):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                    names.add(str(node.slice.value))
    code = inspect.getsource(module) if inspect.ismodule(module) else ""
    names.update(re.findall(r"\[\s*['\"](\w+)['\"]\s*\]\s*=", code))
    names.update(re.findall(r"['\"](\w+)['\"]\s*:", code))
    return names


def test_every_decision_input_is_produced_upstream(source):
    written = _written_names(source)
    for file in (f for f in source.files if f.endswith(".dmn")):
        root = _xml(file)
        for expr in root.iter("{*}inputExpression"):
            text = "".join(expr.itertext()).strip()
            used = re.findall(r"\[\s*['\"](\w+)['\"]\s*\]", text) or re.findall(r"^\w+$", text)
            for name in used:
                assert name in written, (
                    f"{file}: input {expr.get('id')!r} reads {name!r}, which nothing in "
                    f"process {source.process_id!r} writes")


def test_bpmn_files_carry_a_diagram():
    for name in (n for n in FILES if n.endswith(".bpmn")):
        assert _xml(name).find(".//{*}BPMNDiagram") is not None, f"{name} has no BPMNDI"
