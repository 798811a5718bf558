"""Tests for caseflow.diagram: BPMN DI to SVG rendering."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from caseflow.diagram import DEFAULT_LABELS, STATES, DiagramError, render_svg, write_svg
from caseflow.diagram.text import text_width, wrap

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
REFERENCE = sorted((DATA / "bpmn-miwg-reference").glob("*.bpmn"))
SVG = "{http://www.w3.org/2000/svg}"
NS = {"s": "http://www.w3.org/2000/svg"}

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="Defs" targetNamespace="t">
  <bpmn:process id="Proc" isExecutable="true">
    <bpmn:startEvent id="Start" name="{start}"/>
    <bpmn:userTask id="Task" name="{task}"/>
    <bpmn:endEvent id="End" name="{end}"/>
    <bpmn:sequenceFlow id="Flow1" name="{flow}" sourceRef="Start" targetRef="Task"/>
    <bpmn:sequenceFlow id="Flow2" sourceRef="Task" targetRef="End"/>
    <bpmn:textAnnotation id="Note"><bpmn:text>{note}</bpmn:text></bpmn:textAnnotation>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram" name="{diagram}">
    <bpmndi:BPMNPlane id="Plane" bpmnElement="Proc">
      <bpmndi:BPMNShape id="Start_di" bpmnElement="Start">
        <dc:Bounds x="100" y="122" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_di" bpmnElement="Task">
        <dc:Bounds x="200" y="100" width="100" height="80"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="End_di" bpmnElement="End">
        <dc:Bounds x="372" y="122" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Note_di" bpmnElement="Note">
        <dc:Bounds x="200" y="220" width="120" height="40"/></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow1_di" bpmnElement="Flow1">
        <di:waypoint x="136" y="140"/><di:waypoint x="200" y="140"/></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow2_di" bpmnElement="Flow2">
        <di:waypoint x="300" y="140"/><di:waypoint x="372" y="140"/></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def small_bpmn(**names: str) -> str:
    """Return a start → user task → end model with the given (already XML-escaped) names."""
    values = {"start": "Start", "task": "Task", "end": "End", "flow": "", "note": "note",
              "diagram": "Main"} | names
    return TEMPLATE.format(**values)


def parse_svg(svg: str) -> etree._Element:
    root = etree.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    return root


def groups(root: etree._Element, kind: str) -> list[etree._Element]:
    return root.xpath(f"//s:g[starts-with(@class, '{kind} ')]", namespaces=NS)


def shape_group(root: etree._Element, element_id: str) -> etree._Element:
    found = root.xpath(f"//s:g[starts-with(@class, 'shape ')][@data-element-id='{element_id}']",
                       namespaces=NS)
    assert len(found) == 1, element_id
    return found[0]


def texts(el: etree._Element) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter(f"{SVG}text")]


def test_reference_files_are_there() -> None:
    assert len(REFERENCE) == 21, f"expected the 21 MIWG reference files in {DATA}"


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_reference_file_renders_every_shape_and_edge(path: Path) -> None:
    source = path.read_bytes()
    model = etree.fromstring(source)
    shapes = len(list(model.iter("{*}BPMNShape")))
    edges = len(list(model.iter("{*}BPMNEdge")))

    result = render_svg(source)

    assert (result.shape_count, result.edge_count) == (shapes, edges)
    root = parse_svg(result.svg)
    assert len(groups(root, "shape")) == shapes == result.svg.count('class="shape ')
    assert len(groups(root, "edge")) == edges == result.svg.count('class="edge ')
    assert root.get("viewBox").startswith("0 0 ")
    assert "Noto Sans CJK SC" in root.get("font-family")
    for group in groups(root, "shape") + groups(root, "edge"):
        assert group[0].tag == f"{SVG}title"


def test_reference_files_render_fast_and_deterministically() -> None:
    sources = [path.read_bytes() for path in REFERENCE]
    start = time.perf_counter()
    first = [render_svg(source).svg for source in sources]
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"rendering the reference files took {elapsed:.2f}s"
    assert first == [render_svg(source).svg for source in sources]


def test_several_diagrams_are_stacked_with_their_names() -> None:
    source = (DATA / "bpmn-miwg-reference" / "C.4.0.bpmn").read_bytes()
    names = [d.get("name") for d in etree.fromstring(source).iter("{*}BPMNDiagram")]
    root = parse_svg(render_svg(source).svg)
    diagrams = root.xpath("//s:g[@class='diagram']", namespaces=NS)
    assert len(names) == len(diagrams) == 4
    offsets = [float(g.get("transform").split()[1].rstrip(")")) for g in diagrams]
    assert offsets == sorted(offsets)
    headings = texts(root)
    assert all(name in headings for name in names)


def test_bpmn_kinds_get_their_markers() -> None:
    svg = render_svg((DATA / "bpmn-miwg-reference" / "B.2.0.bpmn").read_bytes()).svg
    for marker in ("marker timer", "marker message", "marker signal", "marker error",
                   "marker escalation", "marker conditional", "marker terminate",
                   "marker link", "marker collapsed", "marker loop", "marker parallel",
                   "marker sequential", "icon userTask", "icon serviceTask",
                   "icon sendTask", "icon receiveTask", "shape pool", "shape lane",
                   "shape group", "shape annotation", "shape data dataObjectReference",
                   "shape store", "shape call callActivity expanded",
                   "edge message", "edge data", "edge association"):
        assert f'class="{marker}' in svg, marker


def test_marks_give_states_a_legend_and_taken_flows() -> None:
    marks = {"Start": "completed", "Task": "current"}
    result = render_svg(small_bpmn(), marks=marks, taken_flows=["Flow1"])
    root = parse_svg(result.svg)

    assert shape_group(root, "Start").get("class").split()[-1] == "completed"
    assert "current" in shape_group(root, "Task").get("class").split()
    assert "not_reached" in shape_group(root, "End").get("class").split()
    assert "not_reached" not in shape_group(root, "Note").get("class")
    taken = root.xpath("//s:g[@data-element-id='Flow1']", namespaces=NS)[0]
    assert taken.get("class") == "edge sequence taken"
    widths = [float(p.get("stroke-width")) for p in root.iter(f"{SVG}polyline")
              if p.getparent() is taken]
    assert widths == [3.0]
    legend = root.xpath("//s:g[@class='legend']", namespaces=NS)
    assert len(legend) == 1
    assert texts(legend[0]) == [DEFAULT_LABELS[state] for state in STATES]
    assert DEFAULT_LABELS == {"completed": "已完成", "current": "进行中", "overdue": "已超时",
                              "cancelled": "已取消", "not_reached": "未到达"}


def test_each_state_has_its_own_fill_and_stroke() -> None:
    looks = set()
    for state in STATES:
        marks = {} if state == "not_reached" else {"Task": state}
        root = parse_svg(render_svg(small_bpmn(), marks=marks).svg)
        rect = shape_group(root, "Task").find(f"{SVG}rect")
        looks.add((rect.get("fill"), rect.get("stroke"), rect.get("stroke-width"),
                   rect.get("stroke-dasharray")))
    assert len(looks) == len(STATES)


def test_overdue_gets_a_badge_and_empty_marks_mean_not_reached() -> None:
    root = parse_svg(render_svg(small_bpmn(), marks={}, overdue=["Task"]).svg)
    task = shape_group(root, "Task")
    assert "overdue" in task.get("class").split()
    assert task.xpath(".//s:g[@class='badge overdue']", namespaces=NS)
    assert "not_reached" in shape_group(root, "Start").get("class").split()


def test_no_marks_means_no_states_and_no_legend() -> None:
    svg = render_svg(small_bpmn()).svg
    assert "not_reached" not in svg
    assert 'class="legend"' not in svg


def test_legend_texts_can_be_replaced() -> None:
    svg = render_svg(small_bpmn(), marks={}, labels={"completed": "Done"}).svg
    legend = parse_svg(svg).xpath("//s:g[@class='legend']", namespaces=NS)[0]
    assert texts(legend)[:2] == ["Done", "进行中"]


def test_unknown_mark_is_refused() -> None:
    with pytest.raises(ValueError, match="'finished' for element 'Task'"):
        render_svg(small_bpmn(), marks={"Task": "finished"})


HOSTILE = "&lt;script&gt;alert(1)&lt;/script&gt;"
HOSTILE_ATTR = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"


def test_hostile_names_are_written_as_text() -> None:
    source = small_bpmn(start=HOSTILE, task=HOSTILE_ATTR, end=HOSTILE, flow=HOSTILE,
                        note=HOSTILE, diagram=HOSTILE_ATTR)
    result = render_svg(source, title="<script>alert(2)</script>", marks={"Task": "current"},
                        labels={"current": '"><img onerror=x>'})

    assert "<script" not in result.svg
    assert "<img" not in result.svg
    root = parse_svg(result.svg)
    tags = {etree.QName(el).localname for el in root.iter() if isinstance(el.tag, str)}
    assert not tags & {"script", "img", "foreignObject", "a"}
    assert not [k for el in root.iter() for k in el.attrib if k.startswith("on")]
    words = "".join(texts(root))
    assert "<script>alert(1)</script>" in words
    assert "alert(1)>" in words
    assert "<script>alert(2)</script>" in words
    assert '"><img onerror=x>' in words


def test_malformed_xml_names_the_line() -> None:
    with pytest.raises(DiagramError, match=r"not XML: line 3: .*mismatch"):
        render_svg(b"<definitions>\n<process>\n</definitions>\n")


@pytest.mark.parametrize("source", [b"", "   ", b"just text"])
def test_empty_or_non_xml_is_refused(source: bytes | str) -> None:
    with pytest.raises(DiagramError, match="not XML"):
        render_svg(source)


def test_file_without_diagram_is_refused() -> None:
    with pytest.raises(DiagramError, match=r"has no diagram \(BPMNDI\)"):
        render_svg((DATA / "bench" / "seq10.bpmn").read_bytes())
    with pytest.raises(DiagramError, match=r"not a BPMN file \(root element <html>\)"):
        render_svg("<html><body/></html>")


def test_bad_bounds_name_the_shape() -> None:
    source = small_bpmn().replace('x="200" y="100"', 'x="wide" y="100"')
    with pytest.raises(DiagramError, match="BPMNShape 'Task_di': Bounds x='wide'"):
        render_svg(source)


def test_text_source_with_an_encoding_declaration() -> None:
    path = DATA / "bpmn-miwg-reference" / "A.1.0.bpmn"
    text = path.read_bytes().decode("iso-8859-1")
    assert text.lstrip().startswith('<?xml version="1.0" encoding="ISO-8859-1"')
    assert render_svg(text).svg == render_svg(path.read_bytes()).svg


def test_chinese_name_wraps_inside_a_100px_task() -> None:
    name = "登记学生被骗情况并通知家长和班主任"
    root = parse_svg(render_svg(small_bpmn(task=name)).svg)
    text = shape_group(root, "Task").find(f"{SVG}text")
    lines = [span.text for span in text.iter(f"{SVG}tspan")]
    size = float(text.get("font-size"))
    assert len(lines) >= 2
    assert "".join(lines) == name
    assert all(text_width(line, size) <= 100 - 10 for line in lines)
    assert text.get("text-anchor") == "middle"
    assert float(text.get("x")) == 250
    top, bottom = 100, 180
    ys = [float(span.get("y")) for span in text.iter(f"{SVG}tspan")]
    assert top < ys[0] and ys[-1] < bottom


def test_latin_wraps_at_spaces_and_cjk_anywhere() -> None:
    assert wrap("Review and document result", 80, 12) == ["Review and", "document", "result"]
    assert wrap("审批", 100, 12) == ["审批"]
    lines = wrap("提交申请，等待审批。", 40, 12)
    assert "".join(lines) == "提交申请，等待审批。"
    assert not any(line[0] in "，。" for line in lines)
    assert wrap("一二三四五六七八九十", 30, 12, max_lines=2)[-1].endswith("…")


def test_flow_name_and_external_labels_are_drawn() -> None:
    root = parse_svg(render_svg(small_bpmn(flow="是", start="开始")).svg)
    labels = root.xpath("//s:g[@class='labels']", namespaces=NS)[0]
    assert {"是", "开始"} <= set(texts(labels))


def test_write_svg(tmp_path: Path) -> None:
    out = tmp_path / "a.svg"
    result = write_svg(DATA / "bpmn-miwg-reference" / "A.2.0.bpmn", out)
    assert out.read_text(encoding="utf-8") == result.svg
    assert len(groups(parse_svg(result.svg), "shape")) == result.shape_count == 8


def test_write_svg_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DiagramError, match="missing.bpmn: cannot read"):
        write_svg(tmp_path / "missing.bpmn", tmp_path / "out.svg")
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<definitions><oops></definitions>")
    with pytest.raises(DiagramError, match="bad.bpmn: not XML: line 1"):
        write_svg(bad, tmp_path / "out.svg")
    assert not (tmp_path / "out.svg").exists()


def test_external_entities_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    doctype = f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
    source = small_bpmn(note="&xxe;").replace("<bpmn:definitions", doctype + "<bpmn:definitions", 1)
    source = source.replace('<?xml version="1.0" encoding="UTF-8"?>\n', "")
    result = render_svg(source)
    assert "TOP-SECRET-VALUE" not in result.svg
    assert result.shape_count == 4


def test_shapes_and_edges_of_unknown_elements_are_still_drawn() -> None:
    source = small_bpmn().replace('bpmnElement="Task"', 'bpmnElement="Missing"')
    source = source.replace('id="Flow2_di" bpmnElement="Flow2"', 'id="Flow2_di"')
    result = render_svg(source)
    assert (result.shape_count, result.edge_count) == (4, 2)
    root = parse_svg(result.svg)
    assert shape_group(root, "Missing").get("class") == "shape other"
    assert len(root.xpath("//s:g[@class='edge other']", namespaces=NS)) == 1
