"""Split a folder of BPMN/DMN files into per-process versions, and load a version's spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from caseflow.engine.parsing import BpmnCheckError, BpmnProblem, parse_bundle
from caseflow.engine.specs import SPECS, ParsedProcess, source_hash

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@dataclass(frozen=True)
class ProcessSource:
    """The files that make up one process version: its BPMN, what it calls, its DMN."""

    process_id: str
    name: str | None
    files: dict[str, str]
    source_hash: str
    lanes: tuple[str, ...]


def called_decisions(bpmn_text: str) -> set[str]:
    """Return the decision ids a BPMN file's business-rule tasks call."""
    root = etree.fromstring(bpmn_text.encode("utf-8"))
    return {el.text.strip() for el in root.iter(f"{{{SPIFF_NS}}}calledDecisionId") if el.text}


def _process_name(bpmn_text: str, process_id: str) -> str | None:
    root = etree.fromstring(bpmn_text.encode("utf-8"))
    for el in root.iter(f"{{{BPMN_NS}}}process"):
        if el.get("id") == process_id:
            return el.get("name")
    return None


_SPLIT_CACHE: dict[str, list[ProcessSource]] = {}


def split_bundle(files: Mapping[str, bytes]) -> list[ProcessSource]:
    """Check every file together; return one ProcessSource per executable process.

    The result is cached by the files' hash: checking a 300 KB model takes a second.
    """
    key = source_hash(files)
    if key not in _SPLIT_CACHE:
        _SPLIT_CACHE[key] = _split(files)
    return list(_SPLIT_CACHE[key])


def _split(files: Mapping[str, bytes]) -> list[ProcessSource]:
    bundle = parse_bundle(files)
    texts = {name: data.decode("utf-8") for name, data in files.items()}
    out = []
    for process_id, file_name in sorted(bundle.process_ids.items()):
        spec, subs = bundle.spec(process_id)
        mine = {file_name} | {bundle.process_ids[s] for s in subs if s in bundle.process_ids}
        decisions = set().union(*(called_decisions(texts[f]) for f in mine))
        mine |= {bundle.decision_ids[d] for d in decisions if d in bundle.decision_ids}
        version_files = {f: texts[f] for f in sorted(mine)}
        lanes = sorted({t.lane for s in [spec, *subs.values()]
                        for t in s.task_specs.values() if getattr(t, "lane", None)})
        out.append(ProcessSource(process_id, _process_name(texts[file_name], process_id),
                                 version_files, source_hash(version_files), tuple(lanes)))
    return out


def load_process(process_id: str, files: Mapping[str, str], digest: str | None = None
                 ) -> ParsedProcess:
    """Return the parsed spec of a deployed version, parsing it once per process lifetime."""
    key = digest or source_hash(files)

    def build() -> ParsedProcess:
        bundle = parse_bundle({k: v.encode("utf-8") for k, v in files.items()})
        if process_id not in bundle.process_ids:
            raise BpmnCheckError([BpmnProblem(
                ",".join(files), f"no executable process {process_id!r} in these files")])
        spec, subs = bundle.spec(process_id)
        lanes = tuple(sorted({t.lane for s in [spec, *subs.values()]
                              for t in s.task_specs.values() if getattr(t, "lane", None)}))
        return ParsedProcess(process_id, key, spec, subs, lanes)

    return SPECS.get(f"{process_id}:{key}", build)
