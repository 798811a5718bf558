"""The BPMN engine core: the only package that imports SpiffWorkflow.

It parses and caches specs, runs instances and hands back plain values; it never touches
the database, the web request or the session.
"""

from caseflow.engine.deploying import (
    ProcessSource,
    called_decisions,
    load_process,
    split_bundle,
)
from caseflow.engine.functions import default_settings, standard_functions
from caseflow.engine.parsing import BpmnCheckError, BpmnProblem, FileReport, check_files
from caseflow.engine.runtime import Run, due_from, duration
from caseflow.engine.scripting import ScriptError
from caseflow.engine.specs import SPECS, ParsedProcess, source_hash
from caseflow.engine.types import EngineError, EngineEvent, HumanTask, PendingTimer, ProcessFault

__all__ = [
    "SPECS", "BpmnCheckError", "BpmnProblem", "EngineError", "EngineEvent", "FileReport",
    "HumanTask", "ParsedProcess", "PendingTimer", "ProcessFault", "ProcessSource", "Run",
    "ScriptError",
    "called_decisions", "check_files", "default_settings", "due_from", "duration",
    "load_process", "source_hash", "split_bundle", "standard_functions",
]
