"""Parse and check BPMN and DMN files; turn every failure into a BpmnProblem."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from caseflow.engine.checks import Doc, hit_policy_problems, load_doc, reference_problems
from caseflow.engine.problems import SW, WHY, BpmnProblem, by_id, problem, problem_at

__all__ = ["BpmnCheckError", "BpmnProblem", "FileReport", "ParsedBundle", "check_files",
           "hit_policy_problems", "make_parser", "parse_bundle"]

_HINTS = {  # clearer words for SpiffWorkflow's own messages
    "Multiple outgoing flows are not supported": "has several outgoing sequence flows, which "
    f"{SW} refuses here: split them with a parallel or exclusive gateway",
    "Non-default exclusive outgoing sequence flow without condition": "this flow leaves a "
    "gateway with no condition and is not its default flow: add a condition or make it default",
    "There is no support implemented for this task type": f"{SW} cannot execute this kind of "
    "element: use a supported task, gateway (exclusive, inclusive, parallel) or event instead",
    "RecursionError": f"the chain of elements here is too long for {SW}'s recursive parser "
    "(about 490 in a row): move part of it into a call activity or sub-process",
}


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
        raise BpmnCheckError(problems or [BpmnProblem("", WHY["none"])])
    return ParsedBundle(parser, {p: d.name for d in docs for p in d.process_ids},
                        {k: d.name for d in docs for k in d.decision_ids})


def _check(files: Mapping[str, bytes]) -> tuple[SpiffBpmnParser, list[Doc]]:
    docs = [load_doc(name, data) for name, data in files.items()]
    parser, seen = make_parser(), {}
    for doc in (d for d in docs if d.kind == "dmn" and d.decision_ids):
        ref = doc.decision_ids[0]
        if ref in seen:  # SpiffWorkflow would silently keep only the last one
            doc.problems.append(problem(doc.name, "dup_decision", doc.root, ref=ref,
                                        other=seen[ref]))
        seen.setdefault(ref, doc.name)
        if not doc.problems:
            _spiff(doc, docs, lambda d=doc: _add_dmn(parser, d))
    bpmn = [doc for doc in docs if doc.kind == "bpmn" and doc.process_ids]
    for doc in bpmn:
        doc.problems += reference_problems(doc, docs)
    ready = [doc for doc in bpmn if not doc.problems]
    for doc in ready:
        _spiff(doc, docs, lambda d=doc: parser.add_bpmn_xml(d.root, filename=d.name))
    for pid, doc in [(p, d) for d in ready for p in d.process_ids]:
        if not doc.problems:
            _spiff(doc, docs, lambda p=pid: BpmnWorkflow(
                parser.get_spec(p), parser.get_subprocess_specs(p)))
    return parser, docs


def _add_dmn(parser: SpiffBpmnParser, doc: Doc) -> None:
    parser.add_dmn_xml(doc.root, filename=doc.name)
    parser.dmn_parsers[doc.decision_ids[0]].parse()  # SpiffWorkflow would parse it lazily


def _spiff(doc: Doc, docs: list[Doc], step: Callable[[], object]) -> None:
    try:
        step()
    except Exception as exc:  # every failure must become a problem, whatever the file
        owner = next((d for d in docs if d.name == getattr(exc, "file_name", None)), doc)
        problem = _from_exception(owner, exc)
        if problem not in owner.problems:
            owner.problems.append(problem)


def _from_exception(doc: Doc, exc: Exception) -> BpmnProblem:
    if isinstance(exc, ValidationException):
        reason = "; ".join([str(exc.args[0]) if exc.args else "invalid", *exc.notes])
        reason = next((h for k, h in _HINTS.items() if k in reason), reason)
        element_id, tag = exc.id or None, (exc.tag or "").split("}")[-1].split(":")[-1] or None
    else:
        reason = f"{SW} cannot load it: {type(exc).__name__}: {exc}"
        element_id, tag = getattr(getattr(exc, "task_spec", None), "bpmn_id", None), None
    node = by_id(doc.root, element_id)
    if node is not None:
        return problem_at(doc.name, reason, node)
    line = exc.line_number if isinstance(getattr(exc, "line_number", None), int) else None
    return BpmnProblem(doc.name, reason, element_id, tag, line)
