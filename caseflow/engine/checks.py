"""Check one BPMN or DMN document before SpiffWorkflow sees it: XML, schema, and what the
engine would refuse or silently drop."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from caseflow.engine.problems import (
    SW,
    WHY,
    BpmnProblem,
    bq,
    by_id,
    local,
    problem,
    problem_at,
    q,
    spiff_ext,
    tag_of,
)

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
_RESERVED_IDS = {"Start", "End", "Root"}


@dataclass
class Doc:
    """One file being checked: what it declares, and what is wrong with it."""

    name: str
    kind: str
    root: etree._Element | None = None
    problems: list[BpmnProblem] = field(default_factory=list)
    process_ids: list[str] = field(default_factory=list)
    decision_ids: list[str] = field(default_factory=list)


def load_doc(name: str, data: bytes) -> Doc:
    kind = name.lower().rsplit(".", 1)[-1]
    doc = Doc(name, kind if kind in ("bpmn", "dmn") else "other")
    if doc.kind == "other":
        doc.problems.append(BpmnProblem(name, WHY["ext"]))
        return doc
    doc.root, doc.problems = parse_xml(name, data)
    if doc.root is not None and doc.root.getroottree().docinfo.internalDTD is not None:
        doc.problems.append(problem(name, "dtd", doc.root))
    elif doc.root is not None:
        doc.problems += _root_problems(doc) or _schema_problems(doc)
    if doc.root is not None and not doc.problems:
        doc.problems += _bpmn_problems(doc) if doc.kind == "bpmn" else _dmn_problems(doc)
    return doc


def parse_xml(name: str, data: bytes) -> tuple[etree._Element | None, list[BpmnProblem]]:
    data = data.encode() if isinstance(data, str) else bytes(data or b"")
    if not data.strip():
        return None, [BpmnProblem(name, WHY["empty"])]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser=parser), []
    except etree.XMLSyntaxError as exc:
        return None, [BpmnProblem(name, WHY["xml"].format(msg=exc.msg), line=exc.lineno or None)]
    except (ValueError, etree.LxmlError) as exc:
        return None, [BpmnProblem(name, WHY["xml"].format(msg=exc))]


def _root_problems(doc: Doc) -> list[BpmnProblem]:
    qname, nsmap = etree.QName(doc.root), doc.root.nsmap
    if doc.kind == "bpmn" and qname.text == bq("definitions"):
        return []
    if doc.kind == "dmn" and qname.localname == "definitions" and "/DMN/" in str(qname.namespace):
        ok = nsmap.get(None, nsmap.get("dmn")) == qname.namespace
        return [] if ok else [problem(doc.name, "prefix", doc.root)]
    want = "bpmn:definitions in the BPMN 2.0 namespace" if doc.kind == "bpmn" else "DMN definitions"
    return [problem(doc.name, "root", doc.root, kind=doc.kind.upper(), tag=qname.localname,
                    want=want)]


def _schema_problems(doc: Doc) -> list[BpmnProblem]:
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
        return [problem(doc.name, "xsd", doc.root, kind=doc.kind.upper(), msg=exc)]
    return []


@cache
def _dmn_schema(xsd: str) -> etree.XMLSchema:
    return BpmnValidator(xsd).validator


def _xsd_problem(doc: Doc, entry: etree._LogEntry) -> BpmnProblem:
    message = re.sub(r"\{[^}]*\}", "", entry.message)
    message = re.sub(r"Expected is one of \((.{100}).*\)", r"Expected is one of (\1...)", message)
    reason = WHY["xsd"].format(kind=doc.kind.upper(), msg=message)
    prefixes = {k: v for el in doc.root.iter(etree.Element) for k, v in el.nsmap.items() if k}
    try:
        found = doc.root.getroottree().xpath(entry.path, namespaces=prefixes)
    except (etree.XPathError, TypeError):
        found = []
    if found and isinstance(found[0], etree._Element):
        return problem_at(doc.name, reason, found[0], line=entry.line or None)
    return BpmnProblem(doc.name, reason, line=entry.line or None)


def _bpmn_problems(doc: Doc) -> list[BpmnProblem]:
    procs = doc.root.findall(bq("process"))
    execs = [p for p in procs if p.get("isExecutable", "true") == "true"]
    doc.process_ids = [p.get("id") for p in execs]
    if not execs:
        return [problem(doc.name, "no_exec", procs[0] if procs else doc.root)]
    out = [problem(doc.name, "store", s, name=s.get("name"))
           for s in doc.root.iter(bq("dataStore"))]
    for el in (el for proc in execs for el in proc.iter(etree.Element)):
        tag = local(el)
        if tag in _SCOPES:
            out += _scope_problems(doc.name, el, tag)
        if tag in _FLOW_NODES:
            if el.get("id") in _RESERVED_IDS:
                out.append(problem(doc.name, "reserved", el, ref=el.get("id")))
            out += _node_problems(doc.name, el, tag)
        elif tag in _EVAL or tag in _EXEC:
            out += _code_problems(doc.name, el, tag)
    return out


def _scope_problems(name: str, scope: etree._Element, tag: str) -> list[BpmnProblem]:
    nodes = {c.get("id"): c for c in scope if local(c) in _FLOW_NODES}
    out, targets = [], set()
    for flow in scope.findall(bq("sequenceFlow")):
        src, dst = nodes.get(flow.get("sourceRef")), nodes.get(flow.get("targetRef"))
        targets.add(flow.get("targetRef"))
        if src is None or dst is None:
            out.append(problem(name, "cross", flow, src=flow.get("sourceRef"),
                          dst=flow.get("targetRef")))
        elif flow.find(bq("conditionExpression")) is not None and local(src) not in (
                "exclusiveGateway", "inclusiveGateway"):
            out.append(problem(name, "cond", flow, src=local(src)))
    return out + [problem(name, "orphan", node) for node_id, node in nodes.items()
                  if tag != "adHocSubProcess" and node_id not in targets
                  and local(node) not in ("startEvent", "boundaryEvent")
                  and "true" not in (node.get("triggeredByEvent"), node.get("isForCompensation"))]


def _node_problems(name: str, el: etree._Element, tag: str) -> list[BpmnProblem]:
    if el.get("isForCompensation") == "true":
        return [problem(name, "compensation", el)]
    out = _data_problems(name, el)
    if tag == "adHocSubProcess" and el.get("ordering") == "Sequential":
        out.append(problem(name, "sequential", el))
    if tag == "serviceTask" and spiff_ext(el, "serviceTaskOperator") is None:
        out.append(problem(name, "operator", el))
    if tag == "businessRuleTask" and not spiff_ext(el, "calledDecisionId"):
        out.append(problem(name, "no_decision", el))
    return out + _event_problems(name, el, tag) if tag in _EVENT_DEFS else out


def _event_problems(name: str, el: etree._Element, tag: str) -> list[BpmnProblem]:
    kinds = [d[:-15] for d in map(local, el) if d and d.endswith("EventDefinition")]
    fix = WHY["start_fix"] if tag == "startEvent" else "model it another way"
    out = [problem(name, "event", el, kind=k, tag=tag, fix=WHY.get(k, fix))
           for k in kinds if k not in _EVENT_DEFS[tag]]
    if tag == "boundaryEvent" and not kinds:
        out.append(problem(name, "no_event", el))
    return out


def _code_problems(name: str, el: etree._Element, tag: str) -> list[BpmnProblem]:
    text, short = el.text or "", tag.split(":")[-1]
    owner = next((n for n in el.iterancestors() if local(n) in _FLOW_NODES | {"sequenceFlow"}),
                 el.getparent())
    if tag in _EXEC:
        error = compile_error(text, "exec")
    elif not text.strip():
        empty = tag in _TIMERS or tag == "conditionExpression"
        return [problem(name, "empty_code", owner, tag=short)] if empty else []
    elif tag in _TIMERS and _ISO.fullmatch(text.strip()):
        return [problem(name, "iso", owner, text=text.strip())]
    else:
        error = compile_error(text.lstrip(" \t"), "eval")  # eval() strips these too
    return [problem(name, "code", owner, tag=short, sw=SW, error=error)] if error else []


def compile_error(text: str, mode: str) -> str | None:
    try:
        compile(text, "<bpmn>", mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        return (getattr(exc, "msg", None) or str(exc)) + (f" (line {line})" if line else "")
    return None


def _data_problems(name: str, node: etree._Element) -> list[BpmnProblem]:
    wanted = {"dataInputAssociation": "sourceRef", "dataOutputAssociation": "targetRef"}
    bad, unresolved = [], []
    for ref_el in (r for a in node for r in a if local(r) and wanted.get(local(a)) == local(r)):
        ref = by_id(node.getroottree().getroot(), (ref_el.text or "").strip())
        if ref is None or local(ref) != "dataObjectReference":
            bad.append(f"{local(ref) or 'missing'} {(ref_el.text or '').strip()!r}")
        elif not _declared(node, ref.get("dataObjectRef")):
            unresolved.append(repr(ref.get("dataObjectRef")))
    return ([problem(name, "data", node, refs=", ".join(bad))] if bad else []) + (
        [problem(name, "data_scope", node, refs=", ".join(unresolved))] if unresolved else [])


def _declared(node: etree._Element, data_object_id: str | None) -> bool:
    scopes = [n for n in node.iterancestors() if local(n) in _SCOPES][:2]
    return any(d.get("id") == data_object_id for s in scopes for d in s.findall(bq("dataObject")))


def reference_problems(doc: Doc, docs: list[Doc]) -> list[BpmnProblem]:
    known = {"decision": {k: d for d in docs if d.kind == "dmn" for k in d.decision_ids},
             "process": {p: d for d in docs if d.kind == "bpmn" for p in d.process_ids}}
    return [p for proc in doc.root.findall(bq("process")) if proc.get("id") in doc.process_ids
            for el in proc.iter(bq("businessRuleTask"), bq("callActivity"))
            for p in _reference(doc, el, known)]


def _reference(doc: Doc, el: etree._Element, known: dict) -> list[BpmnProblem]:
    rule = local(el) == "businessRuleTask"
    ref = spiff_ext(el, "calledDecisionId") if rule else el.get("calledElement")
    kind = "decision" if rule else "process"
    if not ref:
        return []  # SpiffWorkflow names what is missing
    if ref not in known[kind]:
        given = ", ".join(sorted(known[kind])) or "none"
        ext = "dmn" if rule else "bpmn"
        return [problem(doc.name, "unknown", el, kind=kind, ref=ref, ext=ext, given=given)]
    target = known[kind][ref]
    if target is not doc and target.problems:
        return [problem(doc.name, "refused", el, kind=kind, ref=ref, other=target.name)]
    return []


def _dmn_problems(doc: Doc) -> list[BpmnProblem]:
    decisions = list(doc.root.iter(q(doc.root, "decision")))
    doc.decision_ids = [d.get("id") or "" for d in decisions]
    if len(decisions) != 1:
        ids = ", ".join(repr(i) for i in doc.decision_ids)
        return [problem(doc.name, "decisions", decisions[1], n=len(decisions), ids=ids)
                if decisions else problem(doc.name, "no_decisions", doc.root)]
    table = decisions[0].find(q(doc.root, "decisionTable"))
    if table is None:
        return [problem(doc.name, "no_table", decisions[0])]
    out = [problem(doc.name, "no_id", el, what=tag_of(el))
           for el in (decisions[0], *table.iter(etree.Element))
           if el.get("id") is None and tag_of(el) in _DMN_IDS]
    return out + _hit_policy(doc.name, table) + _cell_problems(doc.name, table)


def _hit_policy(name: str, table: etree._Element) -> list[BpmnProblem]:
    decision, policy = table.getparent(), (table.get("hitPolicy") or "UNIQUE").upper()
    ref = decision.get("id")
    if policy not in ("FIRST", "UNIQUE", "COLLECT"):
        return [problem(name, "policy", decision, ref=ref, policy=policy)]
    if table.get("aggregation"):
        return [problem(name, "aggregation", decision, ref=ref, agg=table.get("aggregation"))]
    seen, out = {}, []
    for rule in table.iter(q(table, "rule")) if policy == "UNIQUE" else ():
        key = tuple(_cell_text(e) or "-" for e in rule.iter(q(table, "inputEntry")))
        if key in seen:
            out.append(problem(name, "overlap", decision, ref=ref, a=seen[key], b=rule.get("id")))
        seen.setdefault(key, rule.get("id"))
    return out


def _cell_problems(name: str, table: etree._Element) -> list[BpmnProblem]:
    out = []
    for el in table.iter(q(table, "inputEntry"), q(table, "inputExpression")):
        text = _cell_text(el)
        cell = re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmninputexpr", text)
        tries = [cell] if cell != text else [text, f"v {text}"]  # as SpiffWorkflow's DMNEngine
        if text not in ("", "-") and all(compile_error(t, "eval") for t in tries):
            out.append(problem(name, "cell", el, text=text))
    return out


def _cell_text(el: etree._Element) -> str:
    return " ".join(" ".join(t.text or "" for t in el.iter(q(el, "text"))).split())


def hit_policy_problems(name: str, source: bytes) -> list[BpmnProblem]:
    """Refuse hit policies the engine does not evaluate as written, and duplicate UNIQUE rows."""
    root, problems = parse_xml(name, source)
    if root is None:
        return problems
    return [p for table in root.iter(q(root, "decisionTable")) for p in _hit_policy(name, table)]
