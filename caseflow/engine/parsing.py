"""Parse and check BPMN and DMN files; turn every failure into a BpmnProblem."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_SCOPES = {"process", "subProcess", "transaction", "adHocSubProcess"}
_FLOW_NODES = _SCOPES - {"process"} | {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "task", "userTask", "manualTask", "scriptTask", "serviceTask",
    "sendTask", "receiveTask", "businessRuleTask", "callActivity", "exclusiveGateway",
    "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
# The event definitions each SpiffWorkflow 3.2 event parser reads; it silently drops the others.
_EVENT_DEFS = {
    "startEvent": {"message", "signal", "timer", "conditional"},
    "endEvent": {"message", "cancel", "error", "escalation", "terminate"},
    "intermediateCatchEvent": {"message", "signal", "timer", "conditional"},
    "intermediateThrowEvent": {"escalation", "message", "signal"},
    "boundaryEvent": {"cancel", "error", "escalation", "message", "signal", "timer", "conditional"}}
_TIMERS = {"timeDate", "timeDuration", "timeCycle"}
_EVAL = _TIMERS | {"conditionExpression", "condition", "loopCondition", "completionCondition"}
_EXEC = {"script", "spiff:preScript", "spiff:postScript"}
_DUR = r"P(?=[\dT])(\d+[YMWD])*(T(\d+(\.\d+)?[HMS])+)?"
_DATE = r"\d{4}-\d\d-\d\d(T\d\d(:\d\d){0,2}(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?"
_ISO = re.compile(rf"(R\d*/)?({_DUR}|{_DATE})(/({_DUR}|{_DATE}))?")
_DMN_IDS = {"decision", "decisionTable", "input", "output", "rule", "inputEntry", "outputEntry"}
_SW = "SpiffWorkflow"
_RESERVED_IDS = {"Start", "End", "Root"}
_WHY = {  # every reason this module writes itself; fields are filled with str.format
    "ext": "is neither a .bpmn nor a .dmn file",
    "empty": "is empty: upload the file saved by the modeler",
    "xml": "is not well-formed XML ({msg}): save it again from a BPMN/DMN modeler",
    "root": "is not {kind}: its root element is <{tag}>, expected {want}",
    "prefix": f"declare the DMN namespace as default or with the prefix dmn: {_SW} reads no other",
    "xsd": "is not valid {kind} (schema): {msg}",
    "dtd": "declares a DOCTYPE with entities, which BPMN and DMN files never need: remove it",
    "reserved": "uses the id {ref!r}, which SpiffWorkflow reserves for its own start/end "
                "steps (the process would stop at once): rename the element",
    "no_exec": 'has no executable process (isExecutable="true"): it is a descriptive model',
    "store": "data store {name!r} has no implementation in caseflow: use a data object instead",
    "cross": "connects {src!r} to {dst!r}, which are not both elements of this process or "
             "sub-process: a flow must join two existing elements of the same pool or sub-process",
    "cond": f"its condition is ignored: {_SW} evaluates conditions only after exclusive or "
            "inclusive gateways, not after a {src}: add a gateway",
    "orphan": f"has no incoming sequence flow and is not a start event, so {_SW} never runs it: "
              "connect it or remove it",
    "compensation": f"is a compensation handler; {_SW} does not run compensation: remove it "
                    "or model the undo steps explicitly",
    "sequential": f"{_SW} ignores ordering=\"Sequential\" and offers all the tasks of an "
                  "ad-hoc sub-process at once: chain them with sequence flows instead",
    "operator": f"service task has no spiffworkflow:serviceTaskOperator, so {_SW} cannot run "
                "it: model it as a script or user task",
    "no_decision": "has no spiffworkflow:calledDecisionId: name the DMN decision it evaluates",
    "event": _SW + " ignores the {kind} event definition on this {tag}, so it would run "
             "differently than drawn: {fix}",
    "compensate": "compensation is not supported",
    "link": "connect the two ends with a sequence flow instead",
    "signal": "throw the signal from an intermediate event, then end with a plain end event",
    "start_fix": "an event sub-process started this way would run as soon as the process does",
    "no_event": "boundary event has no event definition: give it one",
    "iso": 'timer expression is Python: write "{text}" with quotes or a variable name',
    "empty_code": "{tag} is empty: write a Python expression",
    "code": "{tag} is not Python ({sw} runs it as Python): {error}",
    "data": "its data associations use {refs}; " + _SW + " reads and writes only data "
            "objects (through a dataObjectReference)",
    "data_scope": "it uses data object {refs}, which is not declared in its own (sub-)process "
                  "or the one directly around it: " + _SW + " 3.2 cannot resolve that "
                  "(and hangs on deeper nesting)",
    "unknown": "calls {kind} {ref!r}, which none of the given .{ext} files provides as an "
               "executable {kind} (given: {given})",
    "refused": "calls {kind} {ref!r} from {other}, which was refused: fix that file first",
    "decisions": "has {n} decisions; " + _SW + " reads one decision per .dmn file: split it "
                 "(decisions {ids})",
    "no_decisions": "has no decision: add one",
    "dup_decision": "decision {ref!r} is also defined in {other}: rename one of them",
    "no_table": f"has no decision table; {_SW} evaluates only decision tables",
    "no_id": "a {what} here has no id; " + _SW + " needs one",
    "policy": "decision {ref!r} has hitPolicy {policy}, which the engine does not evaluate as "
              "written (it returns the first matching row): use FIRST, UNIQUE with "
              "non-overlapping rows, or COLLECT",
    "aggregation": "decision {ref!r} has hitPolicy COLLECT with aggregation {agg}, which the "
                   "engine ignores (it returns the list of matches): drop the aggregation "
                   "and compute it in a script task",
    "overlap": "decision {ref!r} has hitPolicy UNIQUE but rules {a!r} and {b!r} have the same "
               "input entries, so both match: make them differ or use hitPolicy FIRST",
    "cell": 'cell {text!r} is not Python (cells are Python here, e.g. "a", > 10, ? in ("a", "b"))',
    "none": "no files given: deploy at least one .bpmn file",
}
_HINTS = {  # clearer words for SpiffWorkflow's own messages
    "Multiple outgoing flows are not supported": "has several outgoing sequence flows, which "
    f"{_SW} refuses here: split them with a parallel or exclusive gateway",
    "Non-default exclusive outgoing sequence flow without condition": "this flow leaves a "
    "gateway with no condition and is not its default flow: add a condition or make it default",
    "There is no support implemented for this task type": f"{_SW} cannot execute this kind of "
    "element: use a supported task, gateway (exclusive, inclusive, parallel) or event instead",
    "RecursionError": f"the chain of elements here is too long for {_SW}'s recursive parser "
    "(about 490 in a row): move part of it into a call activity or sub-process",
}


@dataclass(frozen=True)
class BpmnProblem:
    """One thing wrong with one file, located as precisely as known."""

    file: str
    reason: str
    element_id: str | None = None
    tag: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = " ".join(x for x in (self.tag, self.element_id and f"'{self.element_id}'") if x)
        return f"{where}: {what}: {self.reason}" if what else f"{where}: {self.reason}"


class BpmnCheckError(Exception):
    """Raised by parse_bundle; carries every problem found."""

    def __init__(self, problems: list[BpmnProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class FileReport:
    """Outcome of checking one file."""

    file: str
    ok: bool
    process_ids: tuple[str, ...]
    decision_ids: tuple[str, ...]
    problems: tuple[BpmnProblem, ...]


@dataclass
class ParsedBundle:
    """A checked set of files, loaded into one SpiffWorkflow parser."""

    parser: SpiffBpmnParser
    process_ids: dict[str, str]
    decision_ids: dict[str, str]

    def spec(self, process_id: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        """Return an executable process's spec and the specs of the processes it uses."""
        if process_id not in self.process_ids:
            raise KeyError(f"no executable process {process_id!r} in this bundle")
        return self.parser.get_spec(process_id), self.parser.get_subprocess_specs(process_id)


@dataclass
class _Doc:
    name: str
    kind: str
    root: etree._Element | None = None
    problems: list[BpmnProblem] = field(default_factory=list)
    process_ids: list[str] = field(default_factory=list)
    decision_ids: list[str] = field(default_factory=list)


def make_parser() -> SpiffBpmnParser:
    """Create a SpiffWorkflow parser that validates against the BPMN and DMN schemas."""
    return SpiffBpmnParser(validator=VALIDATOR)


def check_files(files: Mapping[str, bytes]) -> list[FileReport]:
    """Check each file, alone and with the others; return one report per file, in order."""
    return [FileReport(d.name, not d.problems, tuple(d.process_ids), tuple(d.decision_ids),
                       tuple(d.problems)) for d in _check(files)[1]]


def parse_bundle(files: Mapping[str, bytes]) -> ParsedBundle:
    """Parse the files into one parser, or raise BpmnCheckError with every problem."""
    parser, docs = _check(files)
    problems = [p for doc in docs for p in doc.problems]
    if problems or not files:
        raise BpmnCheckError(problems or [BpmnProblem("", _WHY["none"])])
    return ParsedBundle(parser, {p: d.name for d in docs for p in d.process_ids},
                        {k: d.name for d in docs for k in d.decision_ids})


def hit_policy_problems(name: str, source: bytes) -> list[BpmnProblem]:
    """Refuse hit policies the engine does not evaluate as written, and duplicate UNIQUE rows."""
    root, problems = _parse_xml(name, source)
    if root is None:
        return problems
    return [p for table in root.iter(_q(root, "decisionTable")) for p in _hit_policy(name, table)]


def _check(files: Mapping[str, bytes]) -> tuple[SpiffBpmnParser, list[_Doc]]:
    docs = [_load(name, data) for name, data in files.items()]
    parser, seen = make_parser(), {}
    for doc in (d for d in docs if d.kind == "dmn" and d.decision_ids):
        ref = doc.decision_ids[0]
        if ref in seen:  # SpiffWorkflow would silently keep only the last one
            doc.problems.append(_p(doc.name, "dup_decision", doc.root, ref=ref, other=seen[ref]))
        seen.setdefault(ref, doc.name)
        if not doc.problems:
            _spiff(doc, docs, lambda d=doc: _add_dmn(parser, d))
    bpmn = [doc for doc in docs if doc.kind == "bpmn" and doc.process_ids]
    for doc in bpmn:
        doc.problems += _reference_problems(doc, docs)
    ready = [doc for doc in bpmn if not doc.problems]
    for doc in ready:
        _spiff(doc, docs, lambda d=doc: parser.add_bpmn_xml(d.root, filename=d.name))
    for pid, doc in [(p, d) for d in ready for p in d.process_ids]:
        if not doc.problems:
            _spiff(doc, docs, lambda p=pid: BpmnWorkflow(
                parser.get_spec(p), parser.get_subprocess_specs(p)))
    return parser, docs


def _add_dmn(parser: SpiffBpmnParser, doc: _Doc) -> None:
    parser.add_dmn_xml(doc.root, filename=doc.name)
    parser.dmn_parsers[doc.decision_ids[0]].parse()  # SpiffWorkflow would parse it lazily


def _spiff(doc: _Doc, docs: list[_Doc], step: Callable[[], object]) -> None:
    try:
        step()
    except Exception as exc:  # every failure must become a problem, whatever the file
        owner = next((d for d in docs if d.name == getattr(exc, "file_name", None)), doc)
        problem = _from_exception(owner, exc)
        if problem not in owner.problems:
            owner.problems.append(problem)


def _from_exception(doc: _Doc, exc: Exception) -> BpmnProblem:
    if isinstance(exc, ValidationException):
        reason = "; ".join([str(exc.args[0]) if exc.args else "invalid", *exc.notes])
        reason = next((h for k, h in _HINTS.items() if k in reason), reason)
        element_id, tag = exc.id or None, (exc.tag or "").split("}")[-1].split(":")[-1] or None
    else:
        reason = f"{_SW} cannot load it: {type(exc).__name__}: {exc}"
        element_id, tag = getattr(getattr(exc, "task_spec", None), "bpmn_id", None), None
    node = _by_id(doc.root, element_id)
    if node is not None:
        return _problem(doc.name, reason, node)
    line = exc.line_number if isinstance(getattr(exc, "line_number", None), int) else None
    return BpmnProblem(doc.name, reason, element_id, tag, line)


def _load(name: str, data: bytes) -> _Doc:
    kind = name.lower().rsplit(".", 1)[-1]
    doc = _Doc(name, kind if kind in ("bpmn", "dmn") else "other")
    if doc.kind == "other":
        doc.problems.append(BpmnProblem(name, _WHY["ext"]))
        return doc
    doc.root, doc.problems = _parse_xml(name, data)
    if doc.root is not None and doc.root.getroottree().docinfo.internalDTD is not None:
        doc.problems.append(_p(name, "dtd", doc.root))
    elif doc.root is not None:
        doc.problems += _root_problems(doc) or _schema_problems(doc)
    if doc.root is not None and not doc.problems:
        doc.problems += _bpmn_problems(doc) if doc.kind == "bpmn" else _dmn_problems(doc)
    return doc


def _parse_xml(name: str, data: bytes) -> tuple[etree._Element | None, list[BpmnProblem]]:
    data = data.encode() if isinstance(data, str) else bytes(data or b"")
    if not data.strip():
        return None, [BpmnProblem(name, _WHY["empty"])]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser=parser), []
    except etree.XMLSyntaxError as exc:
        return None, [BpmnProblem(name, _WHY["xml"].format(msg=exc.msg), line=exc.lineno or None)]
    except (ValueError, etree.LxmlError) as exc:
        return None, [BpmnProblem(name, _WHY["xml"].format(msg=exc))]


def _root_problems(doc: _Doc) -> list[BpmnProblem]:
    qname, nsmap = etree.QName(doc.root), doc.root.nsmap
    if doc.kind == "bpmn" and qname.text == _bq("definitions"):
        return []
    if doc.kind == "dmn" and qname.localname == "definitions" and "/DMN/" in str(qname.namespace):
        ok = nsmap.get(None, nsmap.get("dmn")) == qname.namespace
        return [] if ok else [_p(doc.name, "prefix", doc.root)]
    want = "bpmn:definitions in the BPMN 2.0 namespace" if doc.kind == "bpmn" else "DMN definitions"
    return [_p(doc.name, "root", doc.root, kind=doc.kind.upper(), tag=qname.localname, want=want)]


def _schema_problems(doc: _Doc) -> list[BpmnProblem]:
    if doc.kind == "bpmn":
        VALIDATOR.preprocess(doc.root)  # what SpiffWorkflow does before validating
        schema = VALIDATOR.validator
    elif (xsd := DMN_SCHEMAS.get(etree.QName(doc.root).namespace)) is not None:
        schema = _dmn_schema(xsd)
    else:
        return []  # SpiffWorkflow does not validate DMN versions it has no schema for
    try:
        schema.assertValid(doc.root.getroottree())
    except etree.DocumentInvalid as exc:
        return [_xsd_problem(doc, entry) for entry in list(exc.error_log)[:20]]
    except etree.LxmlError as exc:
        return [_p(doc.name, "xsd", doc.root, kind=doc.kind.upper(), msg=exc)]
    return []


@cache
def _dmn_schema(xsd: str) -> etree.XMLSchema:
    return BpmnValidator(xsd).validator


def _xsd_problem(doc: _Doc, entry: etree._LogEntry) -> BpmnProblem:
    message = re.sub(r"\{[^}]*\}", "", entry.message)
    message = re.sub(r"Expected is one of \((.{100}).*\)", r"Expected is one of (\1...)", message)
    reason = _WHY["xsd"].format(kind=doc.kind.upper(), msg=message)
    prefixes = {k: v for el in doc.root.iter(etree.Element) for k, v in el.nsmap.items() if k}
    try:
        found = doc.root.getroottree().xpath(entry.path, namespaces=prefixes)
    except (etree.XPathError, TypeError):
        found = []
    if found and isinstance(found[0], etree._Element):
        return _problem(doc.name, reason, found[0], line=entry.line or None)
    return BpmnProblem(doc.name, reason, line=entry.line or None)


def _bpmn_problems(doc: _Doc) -> list[BpmnProblem]:
    procs = doc.root.findall(_bq("process"))
    execs = [p for p in procs if p.get("isExecutable", "true") == "true"]
    doc.process_ids = [p.get("id") for p in execs]
    if not execs:
        return [_p(doc.name, "no_exec", procs[0] if procs else doc.root)]
    out = [_p(doc.name, "store", s, name=s.get("name")) for s in doc.root.iter(_bq("dataStore"))]
    for el in (el for proc in execs for el in proc.iter(etree.Element)):
        tag = _local(el)
        if tag in _SCOPES:
            out += _scope_problems(doc.name, el, tag)
        if tag in _FLOW_NODES:
            if el.get("id") in _RESERVED_IDS:
                out.append(_p(doc.name, "reserved", el, ref=el.get("id")))
            out += _node_problems(doc.name, el, tag)
        elif tag in _EVAL or tag in _EXEC:
            out += _code_problems(doc.name, el, tag)
    return out


def _scope_problems(name: str, scope: etree._Element, tag: str) -> list[BpmnProblem]:
    nodes = {c.get("id"): c for c in scope if _local(c) in _FLOW_NODES}
    out, targets = [], set()
    for flow in scope.findall(_bq("sequenceFlow")):
        src, dst = nodes.get(flow.get("sourceRef")), nodes.get(flow.get("targetRef"))
        targets.add(flow.get("targetRef"))
        if src is None or dst is None:
            out.append(_p(name, "cross", flow, src=flow.get("sourceRef"),
                          dst=flow.get("targetRef")))
        elif flow.find(_bq("conditionExpression")) is not None and _local(src) not in (
                "exclusiveGateway", "inclusiveGateway"):
            out.append(_p(name, "cond", flow, src=_local(src)))
    return out + [_p(name, "orphan", node) for node_id, node in nodes.items()
                  if tag != "adHocSubProcess" and node_id not in targets
                  and _local(node) not in ("startEvent", "boundaryEvent")
                  and "true" not in (node.get("triggeredByEvent"), node.get("isForCompensation"))]


def _node_problems(name: str, el: etree._Element, tag: str) -> list[BpmnProblem]:
    if el.get("isForCompensation") == "true":
        return [_p(name, "compensation", el)]
    out = _data_problems(name, el)
    if tag == "adHocSubProcess" and el.get("ordering") == "Sequential":
        out.append(_p(name, "sequential", el))
    if tag == "serviceTask" and _spiff_ext(el, "serviceTaskOperator") is None:
        out.append(_p(name, "operator", el))
    if tag == "businessRuleTask" and not _spiff_ext(el, "calledDecisionId"):
        out.append(_p(name, "no_decision", el))
    return out + _event_problems(name, el, tag) if tag in _EVENT_DEFS else out


def _event_problems(name: str, el: etree._Element, tag: str) -> list[BpmnProblem]:
    kinds = [d[:-15] for d in map(_local, el) if d and d.endswith("EventDefinition")]
    fix = _WHY["start_fix"] if tag == "startEvent" else "model it another way"
    out = [_p(name, "event", el, kind=k, tag=tag, fix=_WHY.get(k, fix))
           for k in kinds if k not in _EVENT_DEFS[tag]]
    if tag == "boundaryEvent" and not kinds:
        out.append(_p(name, "no_event", el))
    return out


def _code_problems(name: str, el: etree._Element, tag: str) -> list[BpmnProblem]:
    text, short = el.text or "", tag.split(":")[-1]
    owner = next((n for n in el.iterancestors() if _local(n) in _FLOW_NODES | {"sequenceFlow"}),
                 el.getparent())
    if tag in _EXEC:
        error = _compile_error(text, "exec")
    elif not text.strip():
        empty = tag in _TIMERS or tag == "conditionExpression"
        return [_p(name, "empty_code", owner, tag=short)] if empty else []
    elif tag in _TIMERS and _ISO.fullmatch(text.strip()):
        return [_p(name, "iso", owner, text=text.strip())]
    else:
        error = _compile_error(text.lstrip(" \t"), "eval")  # eval() strips these too
    return [_p(name, "code", owner, tag=short, sw=_SW, error=error)] if error else []


def _compile_error(text: str, mode: str) -> str | None:
    try:
        compile(text, "<bpmn>", mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        return (getattr(exc, "msg", None) or str(exc)) + (f" (line {line})" if line else "")
    return None


def _data_problems(name: str, node: etree._Element) -> list[BpmnProblem]:
    wanted = {"dataInputAssociation": "sourceRef", "dataOutputAssociation": "targetRef"}
    bad, unresolved = [], []
    for ref_el in (r for a in node for r in a if _local(r) and wanted.get(_local(a)) == _local(r)):
        ref = _by_id(node.getroottree().getroot(), (ref_el.text or "").strip())
        if ref is None or _local(ref) != "dataObjectReference":
            bad.append(f"{_local(ref) or 'missing'} {(ref_el.text or '').strip()!r}")
        elif not _declared(node, ref.get("dataObjectRef")):
            unresolved.append(repr(ref.get("dataObjectRef")))
    return ([_p(name, "data", node, refs=", ".join(bad))] if bad else []) + (
        [_p(name, "data_scope", node, refs=", ".join(unresolved))] if unresolved else [])


def _declared(node: etree._Element, data_object_id: str | None) -> bool:
    scopes = [n for n in node.iterancestors() if _local(n) in _SCOPES][:2]
    return any(d.get("id") == data_object_id for s in scopes for d in s.findall(_bq("dataObject")))


def _reference_problems(doc: _Doc, docs: list[_Doc]) -> list[BpmnProblem]:
    known = {"decision": {k: d for d in docs if d.kind == "dmn" for k in d.decision_ids},
             "process": {p: d for d in docs if d.kind == "bpmn" for p in d.process_ids}}
    return [p for proc in doc.root.findall(_bq("process")) if proc.get("id") in doc.process_ids
            for el in proc.iter(_bq("businessRuleTask"), _bq("callActivity"))
            for p in _reference(doc, el, known)]


def _reference(doc: _Doc, el: etree._Element, known: dict) -> list[BpmnProblem]:
    rule = _local(el) == "businessRuleTask"
    ref = _spiff_ext(el, "calledDecisionId") if rule else el.get("calledElement")
    kind = "decision" if rule else "process"
    if not ref:
        return []  # SpiffWorkflow names what is missing
    if ref not in known[kind]:
        given = ", ".join(sorted(known[kind])) or "none"
        ext = "dmn" if rule else "bpmn"
        return [_p(doc.name, "unknown", el, kind=kind, ref=ref, ext=ext, given=given)]
    target = known[kind][ref]
    if target is not doc and target.problems:
        return [_p(doc.name, "refused", el, kind=kind, ref=ref, other=target.name)]
    return []


def _dmn_problems(doc: _Doc) -> list[BpmnProblem]:
    decisions = list(doc.root.iter(_q(doc.root, "decision")))
    doc.decision_ids = [d.get("id") or "" for d in decisions]
    if len(decisions) != 1:
        ids = ", ".join(repr(i) for i in doc.decision_ids)
        return [_p(doc.name, "decisions", decisions[1], n=len(decisions), ids=ids)
                if decisions else _p(doc.name, "no_decisions", doc.root)]
    table = decisions[0].find(_q(doc.root, "decisionTable"))
    if table is None:
        return [_p(doc.name, "no_table", decisions[0])]
    out = [_p(doc.name, "no_id", el, what=_tag(el))
           for el in (decisions[0], *table.iter(etree.Element))
           if el.get("id") is None and _tag(el) in _DMN_IDS]
    return out + _hit_policy(doc.name, table) + _cell_problems(doc.name, table)


def _hit_policy(name: str, table: etree._Element) -> list[BpmnProblem]:
    decision, policy = table.getparent(), (table.get("hitPolicy") or "UNIQUE").upper()
    ref = decision.get("id")
    if policy not in ("FIRST", "UNIQUE", "COLLECT"):
        return [_p(name, "policy", decision, ref=ref, policy=policy)]
    if table.get("aggregation"):
        return [_p(name, "aggregation", decision, ref=ref, agg=table.get("aggregation"))]
    seen, out = {}, []
    for rule in table.iter(_q(table, "rule")) if policy == "UNIQUE" else ():
        key = tuple(_cell_text(e) or "-" for e in rule.iter(_q(table, "inputEntry")))
        if key in seen:
            out.append(_p(name, "overlap", decision, ref=ref, a=seen[key], b=rule.get("id")))
        seen.setdefault(key, rule.get("id"))
    return out


def _cell_problems(name: str, table: etree._Element) -> list[BpmnProblem]:
    out = []
    for el in table.iter(_q(table, "inputEntry"), _q(table, "inputExpression")):
        text = _cell_text(el)
        cell = re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmninputexpr", text)
        tries = [cell] if cell != text else [text, f"v {text}"]  # as SpiffWorkflow's DMNEngine
        if text not in ("", "-") and all(_compile_error(t, "eval") for t in tries):
            out.append(_p(name, "cell", el, text=text))
    return out


def _cell_text(el: etree._Element) -> str:
    return " ".join(" ".join(t.text or "" for t in el.iter(_q(el, "text"))).split())


def _p(file: str, key: str, node: etree._Element, **fields: object) -> BpmnProblem:
    return _problem(file, _WHY[key].format(**fields), node)


def _problem(file: str, reason: str, node: etree._Element, line: int | None = None) -> BpmnProblem:
    named = next((n for n in (node, *node.iterancestors()) if n.get("id")), node)
    return BpmnProblem(file, reason, named.get("id"), _tag(named), line or node.sourceline)


def _by_id(root: etree._Element | None, element_id: str | None) -> etree._Element | None:
    found = root.xpath("//*[@id=$i]", i=element_id) if root is not None and element_id else []
    return found[0] if found else None


def _spiff_ext(el: etree._Element, name: str) -> str | None:
    found = el.find(f"{_bq('extensionElements')}/{{{SPIFF_NS}}}{name}")
    return None if found is None else (found.text or "").strip()


def _local(el: etree._Element | None) -> str | None:
    if el is None or not isinstance(el.tag, str):
        return None
    qname = etree.QName(el)
    return {BPMN_NS: qname.localname, SPIFF_NS: f"spiff:{qname.localname}"}.get(qname.namespace)


def _tag(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _bq(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def _q(el: etree._Element, local: str) -> str:
    return f"{{{etree.QName(el).namespace}}}{local}"
