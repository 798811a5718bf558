"""A problem found in a BPMN or DMN file, the words for it, and where in the file it is."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
SW = "SpiffWorkflow"
WHY = {  # every reason the checks write themselves; fields are filled with str.format
    "ext": "is neither a .bpmn nor a .dmn file",
    "empty": "is empty: upload the file saved by the modeler",
    "xml": "is not well-formed XML ({msg}): save it again from a BPMN/DMN modeler",
    "root": "is not {kind}: its root element is <{tag}>, expected {want}",
    "prefix": f"declare the DMN namespace as default or with the prefix dmn: {SW} reads no other",
    "xsd": "is not valid {kind} (schema): {msg}",
    "dtd": "declares a DOCTYPE with entities, which BPMN and DMN files never need: remove it",
    "reserved": "uses the id {ref!r}, which SpiffWorkflow reserves for its own start/end "
                "steps (the process would stop at once): rename the element",
    "no_exec": 'has no executable process (isExecutable="true"): it is a descriptive model',
    "store": "data store {name!r} has no implementation in caseflow: use a data object instead",
    "cross": "connects {src!r} to {dst!r}, which are not both elements of this process or "
             "sub-process: a flow must join two existing elements of the same pool or sub-process",
    "cond": f"its condition is ignored: {SW} evaluates conditions only after exclusive or "
            "inclusive gateways, not after a {src}: add a gateway",
    "orphan": f"has no incoming sequence flow and is not a start event, so {SW} never runs it: "
              "connect it or remove it",
    "compensation": f"is a compensation handler; {SW} does not run compensation: remove it "
                    "or model the undo steps explicitly",
    "sequential": f"{SW} ignores ordering=\"Sequential\" and offers all the tasks of an "
                  "ad-hoc sub-process at once: chain them with sequence flows instead",
    "operator": f"service task has no spiffworkflow:serviceTaskOperator, so {SW} cannot run "
                "it: model it as a script or user task",
    "no_decision": "has no spiffworkflow:calledDecisionId: name the DMN decision it evaluates",
    "event": SW + " ignores the {kind} event definition on this {tag}, so it would run "
             "differently than drawn: {fix}",
    "compensate": "compensation is not supported",
    "link": "connect the two ends with a sequence flow instead",
    "signal": "throw the signal from an intermediate event, then end with a plain end event",
    "start_fix": "an event sub-process started this way would run as soon as the process does",
    "no_event": "boundary event has no event definition: give it one",
    "iso": 'timer expression is Python: write "{text}" with quotes or a variable name',
    "empty_code": "{tag} is empty: write a Python expression",
    "code": "{tag} is not Python ({sw} runs it as Python): {error}",
    "data": "its data associations use {refs}; " + SW + " reads and writes only data "
            "objects (through a dataObjectReference)",
    "data_scope": "it uses data object {refs}, which is not declared in its own (sub-)process "
                  "or the one directly around it: " + SW + " 3.2 cannot resolve that "
                  "(and hangs on deeper nesting)",
    "unknown": "calls {kind} {ref!r}, which none of the given .{ext} files provides as an "
               "executable {kind} (given: {given})",
    "refused": "calls {kind} {ref!r} from {other}, which was refused: fix that file first",
    "decisions": "has {n} decisions; " + SW + " reads one decision per .dmn file: split it "
                 "(decisions {ids})",
    "no_decisions": "has no decision: add one",
    "dup_decision": "decision {ref!r} is also defined in {other}: rename one of them",
    "no_table": f"has no decision table; {SW} evaluates only decision tables",
    "no_id": "a {what} here has no id; " + SW + " needs one",
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


def problem(file: str, key: str, node: etree._Element, **fields: object) -> BpmnProblem:
    """Return the problem `key` of WHY (its fields filled) at `node`."""
    return problem_at(file, WHY[key].format(**fields), node)


def problem_at(file: str, reason: str, node: etree._Element, line: int | None = None
               ) -> BpmnProblem:
    """Return a problem at `node`, named by it or its nearest ancestor with an id."""
    named = next((n for n in (node, *node.iterancestors()) if n.get("id")), node)
    return BpmnProblem(file, reason, named.get("id"), tag_of(named), line or node.sourceline)


def by_id(root: etree._Element | None, element_id: str | None) -> etree._Element | None:
    """Return the element with this id, if the document has one."""
    found = root.xpath("//*[@id=$i]", i=element_id) if root is not None and element_id else []
    return found[0] if found else None


def spiff_ext(el: etree._Element, name: str) -> str | None:
    """Return the text of a SpiffWorkflow extension of `el`, if it has it."""
    found = el.find(f"{bq('extensionElements')}/{{{SPIFF_NS}}}{name}")
    return None if found is None else (found.text or "").strip()


def local(el: etree._Element | None) -> str | None:
    """Return a BPMN element's local name (spiff:name for SpiffWorkflow's), else None."""
    if el is None or not isinstance(el.tag, str):
        return None
    qname = etree.QName(el)
    return {BPMN_NS: qname.localname, SPIFF_NS: f"spiff:{qname.localname}"}.get(qname.namespace)


def tag_of(el: etree._Element) -> str:
    """Return an element's local name, whatever its namespace."""
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def bq(local: str) -> str:
    """Return the qualified name of a BPMN element."""
    return f"{{{BPMN_NS}}}{local}"


def q(el: etree._Element, local: str) -> str:
    """Return the qualified name of `local` in the namespace of `el`."""
    return f"{{{etree.QName(el).namespace}}}{local}"
