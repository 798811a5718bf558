"""What the screens read from a deployed BPMN file without running it: flows, kinds, texts."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from caseflow.services import NotFound, runner

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
HUMAN = {"userTask", "manualTask"}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
            "complexGateway"}


@dataclass(frozen=True)
class BpmnInfo:
    """The diagram source of one process version, and its flow graph."""

    source: str | None
    kinds: dict[str, str] = field(default_factory=dict)  # element id -> local tag name
    flows: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (source, target)
    attached: dict[str, str] = field(default_factory=dict)  # boundary event -> activity
    texts: dict[str, str] = field(default_factory=dict)  # element id -> instructions
    names: dict[str, str] = field(default_factory=dict)  # element id -> name as drawn

    def element(self, ref: str) -> str:
        """Return the element id behind an engine task name (e.g. 'X.BoundaryEventSplit')."""
        return ref if ref in self.kinds else ref.split(".", 1)[0]


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _pick_source(process_id: str, files: dict[str, str]) -> str | None:
    """Return the .bpmn file that defines `process_id` (else the first .bpmn file)."""
    bpmn = [text for name, text in sorted(files.items()) if name.endswith(".bpmn")]
    for text in bpmn:
        if f'id="{process_id}"' in text:
            return text
    return bpmn[0] if bpmn else None


def _instructions(el: etree._Element) -> str | None:
    found = el.find(f".//{{{SPIFF_NS}}}instructionsForEndUser")
    if found is None or not (found.text or "").strip():
        found = el.find(f"{{{BPMN_NS}}}documentation")
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def parse_info(source: str | None) -> BpmnInfo:
    """Read the flow graph and the task instructions of a BPMN file."""
    if not source:
        return BpmnInfo(None)
    info = BpmnInfo(source)
    root = etree.fromstring(source.encode("utf-8"),
                            etree.XMLParser(resolve_entities=False, no_network=True))
    for el in root.iter(f"{{{BPMN_NS}}}*"):
        kind, el_id = _local(el.tag), el.get("id")
        if not el_id:
            continue
        info.kinds[el_id] = kind
        if el.get("name"):
            info.names[el_id] = el.get("name", "")
        if kind == "sequenceFlow":
            info.flows[el_id] = (el.get("sourceRef", ""), el.get("targetRef", ""))
        elif kind == "boundaryEvent" and el.get("attachedToRef"):
            info.attached[el_id] = el.get("attachedToRef", "")
        if kind in HUMAN:
            text = _instructions(el)
            if text:
                info.texts[el_id] = text
    return info


_CACHE: dict[str, BpmnInfo] = {}


def for_version(version_id: int) -> BpmnInfo:
    """Return the BPMN information of a deployed process version (parsed once per source)."""
    try:
        process_id, digest, files = runner.version_files(version_id)
    except NotFound:
        return BpmnInfo(None)
    key = f"{process_id}:{digest}"
    if key not in _CACHE:
        _CACHE[key] = parse_info(_pick_source(process_id, files))
    return _CACHE[key]


def instructions(version_id: int, task_spec: str) -> str | None:
    """Return the instructions of a human task, as drawn in the model."""
    return for_version(version_id).texts.get(task_spec)
