"""Read BPMN XML and its diagram interchange (BPMN DI) into plain shapes and edges."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from lxml import etree

from caseflow.diagram.svg import Point

COLOR_NS = "http://www.omg.org/spec/BPMN/non-normative/color/1.0"
BIOC_NS = "http://bpmn.io/schema/bpmn/biocolor/1.0"
_DI_TAGS = {"BPMNDiagram", "BPMNPlane", "BPMNShape", "BPMNEdge", "BPMNLabel",
            "BPMNLabelStyle", "Bounds", "waypoint", "Font"}
_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")
_COLOUR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgba?\([0-9.,%\s]+\))$")

TASKS = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
         "receiveTask", "manualTask"}
KINDS = {
    **dict.fromkeys(TASKS, "task"),
    **dict.fromkeys(("startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent",
                     "intermediateThrowEvent", "implicitThrowEvent"), "event"),
    **dict.fromkeys(("exclusiveGateway", "parallelGateway", "inclusiveGateway",
                     "eventBasedGateway", "complexGateway"), "gateway"),
    **dict.fromkeys(("subProcess", "transaction", "adHocSubProcess"), "subprocess"),
    **dict.fromkeys(("dataObject", "dataObjectReference", "dataInput", "dataOutput"), "data"),
    **dict.fromkeys(("dataStore", "dataStoreReference"), "store"),
    **dict.fromkeys(("choreographyTask", "subChoreography", "callChoreography"), "choreography"),
    **dict.fromkeys(("conversation", "subConversation", "callConversation"), "conversation"),
    "callActivity": "call", "participant": "pool", "lane": "lane", "textAnnotation": "annotation",
    "group": "group", "message": "message",
}
EDGE_KINDS = {"sequenceFlow": "sequence", "messageFlow": "message", "association": "association",
              "dataInputAssociation": "data", "dataOutputAssociation": "data",
              "conversationLink": "conversation"}


class DiagramError(Exception):
    """A BPMN file that cannot be drawn; the message says where and why."""


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        """Return the centre x."""
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        """Return the centre y."""
        return self.y + self.h / 2

    @property
    def bottom(self) -> float:
        """Return the bottom edge."""
        return self.y + self.h

    def contains(self, other: Box) -> bool:
        """Tell whether other's centre lies strictly inside this box."""
        return self.x < other.cx < self.x + self.w and self.y < other.cy < self.bottom


@dataclass
class Shape:
    """One BPMNShape with what drawing it needs."""

    element_id: str
    element: etree._Element | None
    tag: str
    kind: str
    name: str
    box: Box
    label: Box | None
    di: etree._Element
    expanded: bool = False
    fill: str | None = None
    stroke: str | None = None


@dataclass
class Edge:
    """One BPMNEdge with what drawing it needs."""

    element_id: str
    element: etree._Element | None
    tag: str
    kind: str
    name: str
    points: list[Point]
    label: Box | None
    stroke: str | None = None


@dataclass
class Diagram:
    """One BPMNDiagram."""

    name: str
    shapes: list[Shape] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def local(el: etree._Element) -> str:
    """Return an element's tag without its namespace."""
    return el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""


def parse(source: bytes | str) -> etree._Element:
    """Parse XML safely (no entities, no network) or raise DiagramError with the line."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_comments=True, remove_pis=True)
    if isinstance(source, str):
        source = _DECLARATION.sub("", source, count=1)
    try:
        root = etree.fromstring(source, parser)
    except etree.XMLSyntaxError as err:
        raise DiagramError(f"not XML: line {err.lineno}: {err.msg}") from None
    if root is None:
        raise DiagramError("not XML: the file is empty")
    return root


def index(root: etree._Element) -> dict[str, etree._Element]:
    """Map each semantic element id to its element (first one wins)."""
    found: dict[str, etree._Element] = {}
    for el in root.iter():
        el_id = el.get("id") if isinstance(el.tag, str) else None
        if el_id and local(el) not in _DI_TAGS:
            found.setdefault(el_id, el)
    return found


def _lookup(ref: str, ids: dict[str, etree._Element]) -> etree._Element | None:
    return ids.get(ref) if ref in ids else ids.get(ref.rpartition(":")[2])


def _number(el: etree._Element, key: str, owner: str) -> float:
    raw = el.get(key, "0")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DiagramError(f"{owner}: {local(el)} {key}={raw!r} is not a number")
    return value


def _box(el: etree._Element | None, owner: str) -> Box | None:
    if el is None:
        return None
    return Box(*(_number(el, key, owner) for key in ("x", "y", "width", "height")))


def _colour(di: etree._Element, *keys: str) -> str | None:
    for key in keys:
        value = (di.get(key) or "").strip()
        if _COLOUR.match(value):
            return value
    return None


def name_of(el: etree._Element | None, ids: dict[str, etree._Element]) -> str:
    """Return an element's display name (annotation text, group category, referenced name)."""
    if el is None:
        return ""
    tag = local(el)
    if tag == "textAnnotation":
        return (el.findtext("{*}text") or "").strip()
    if tag == "group":
        value = _lookup(el.get("categoryValueRef", ""), ids)
        return (value.get("value", "") if value is not None else el.get("name", "")).strip()
    name = (el.get("name") or "").strip()
    for ref in ("dataObjectRef", "dataStoreRef", "processRef"):
        target = None if name or not el.get(ref) else _lookup(el.get(ref, ""), ids)
        if target is not None:
            name = (target.get("name") or "").strip()
    return name


def _label(di: etree._Element, owner: str) -> Box | None:
    box = _box(di.find("{*}BPMNLabel/{*}Bounds"), owner)
    return box if box is not None and (box.w > 0 or box.h > 0) else None


def _shape(di: etree._Element, ids: dict[str, etree._Element]) -> Shape | None:
    owner = f"BPMNShape {di.get('id', '?')!r}"
    box = _box(di.find("{*}Bounds"), owner)
    if box is None:
        return None
    ref = di.get("bpmnElement", "")
    el = _lookup(ref, ids) if ref else None
    tag = local(el) if el is not None else ""
    return Shape(ref, el, tag, KINDS.get(tag, "other"), name_of(el, ids), box,
                 _label(di, owner), di,
                 fill=_colour(di, f"{{{COLOR_NS}}}background-color", f"{{{BIOC_NS}}}fill"),
                 stroke=_colour(di, f"{{{COLOR_NS}}}border-color", f"{{{BIOC_NS}}}stroke"))


def _edge(di: etree._Element, ids: dict[str, etree._Element]) -> Edge | None:
    owner = f"BPMNEdge {di.get('id', '?')!r}"
    points = [(_number(p, "x", owner), _number(p, "y", owner)) for p in di.findall("{*}waypoint")]
    if len(points) < 2:
        return None
    ref = di.get("bpmnElement", "")
    el = _lookup(ref, ids) if ref else None
    tag = local(el) if el is not None else ""
    return Edge(ref, el, tag, EDGE_KINDS.get(tag, "other"), name_of(el, ids), points,
                _label(di, owner),
                stroke=_colour(di, f"{{{COLOR_NS}}}border-color", f"{{{BIOC_NS}}}stroke"))


def _expanded(shape: Shape, shapes: list[Shape]) -> bool:
    value = shape.di.get("isExpanded")
    if value is not None:
        return value.strip().lower() == "true"
    return any(other is not shape and shape.box.contains(other.box) for other in shapes)


def _diagram(di: etree._Element, ids: dict[str, etree._Element], number: int) -> Diagram:
    plane = di.find("{*}BPMNPlane")
    subject = _lookup(plane.get("bpmnElement", ""), ids) if plane is not None else None
    name = di.get("name") or name_of(subject, ids) or di.get("id") or f"Diagram {number}"
    diagram = Diagram(name.strip())
    for el in di.iter("{*}BPMNShape", "{*}BPMNEdge"):
        if local(el) == "BPMNShape":
            shape = _shape(el, ids)
            diagram.shapes.extend([shape] if shape else [])
        else:
            edge = _edge(el, ids)
            diagram.edges.extend([edge] if edge else [])
    for shape in diagram.shapes:
        if shape.kind in ("subprocess", "call"):
            shape.expanded = _expanded(shape, diagram.shapes)
    return diagram


def read(root: etree._Element) -> tuple[list[Diagram], dict[str, etree._Element]]:
    """Return every BPMNDiagram of a parsed file and the id index of its elements."""
    found = list(root.iter("{*}BPMNDiagram"))
    if not found:
        what = local(root)
        hint = "" if what == "definitions" else f"not a BPMN file (root element <{what}>): "
        raise DiagramError(f"{hint}file has no diagram (BPMNDI): no bpmndi:BPMNDiagram element"
                           " found, so there is nothing to draw")
    ids = index(root)
    return [_diagram(el, ids, n) for n, el in enumerate(found, 1)], ids
