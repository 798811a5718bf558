"""Move a running instance onto another deployed version of its process.

SpiffWorkflow aligns the two versions' elements by id (`diff_workflow`). Its own
`migrate_workflow` then resets every ready and waiting task, which forgets a waiting
timer's computed due time (an escalation would start counting again) and gives the task
fresh data. Here nothing is reset: each task keeps its id, state, data and due time and
only points at the new version's element of the same id. That is safe only where the
instance's task tree is still what the new version would have built, so an instance is
moved only when:

- every element its tree holds (done, open or predicted) still exists, under the same id;
- every open element (ready, waiting, started) keeps its kind, its lane (the open task
  row keeps its role and holder) and its incoming and outgoing flows, and one ahead
  (future or predicted) keeps its flows (its kind may change: nothing of it has run);
- every sub-process it has entered still exists.

SpiffWorkflow wires an event sub-process into its process's spec the first time one is
triggered (Start -> the sub-process -> the end join), and our parsed specs are shared by
every instance of a version. The target gets the same wiring for the event sub-processes
this instance triggered before the two are compared, as SpiffWorkflow would give it on
the first trigger; flows are compared as sets, since that wiring's order follows the
order in which instances happened to trigger them.

What may change freely: scripts, conditions, decisions, forms, due times of steps not
yet reached, notifications, names, and any element the instance has not reached or
predicted. Done elements may change in any way: they stay done as they were done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.util.diff import SpecDiff

from caseflow.engine.runtime import Run
from caseflow.engine.serializer import SERIALIZER
from caseflow.engine.specs import ParsedProcess

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
AHEAD = TaskState.FUTURE | TaskState.PREDICTED_MASK  # not reached yet: nothing of its kind
FLOW_KEYS = ("inputs", "outputs")


@dataclass
class MigrationPlan:
    """Whether an instance can move to a version, and which of its elements change."""

    blockers: list[str] = field(default_factory=list)  # why it cannot move, in words
    changed: list[str] = field(default_factory=list)  # element ids whose definition changes

    @property
    def possible(self) -> bool:
        """Return whether the instance can move."""
        return not self.blockers


def plan(run: Run, target: ParsedProcess) -> MigrationPlan:
    """Say whether `run` can move onto `target`, and what would change (changes nothing)."""
    result = MigrationPlan()
    for workflow, spec in _workflows(run, target, result):
        _wire_triggered(workflow.spec, spec)
        _check(workflow, _diff(workflow.spec, spec), result)
    result.changed = sorted(set(result.changed))
    return result


def migrate(run: Run, target: ParsedProcess) -> tuple[Run | None, MigrationPlan]:
    """Move `run` onto `target` if it can; return the moved Run (None if not) and the plan.

    The workflow is changed in place only once `plan` allows the move. If the moved
    instance's open steps or waiting timers would differ from before (the checks should
    make that impossible), the plan gets that reason and None comes back: the caller
    throws the changed Run away.
    """
    result = plan(run, target)
    if not result.possible:
        return None, result
    before = _open(run)
    for workflow, spec in _workflows(run, target, result):
        diff = _diff(workflow.spec, spec)
        workflow.spec = spec
        for task in workflow.tasks.values():
            task.task_spec = diff.alignment[task.task_spec]
    run.workflow.subprocess_specs = target.subprocess_specs
    moved = Run(run.workflow, target)
    if _open(moved) != before:
        result.blockers.append("the new version would change this case's open steps or timers")
        return None, result
    return moved, result


def _open(run: Run) -> tuple[list[tuple[str, str]], list[tuple[str, Any]]]:
    """Return the open steps and waiting timers people and the worker see."""
    return ([(t.id, t.spec_id) for t in run.ready_human_tasks()],
            [(t.task_id, t.due_at) for t in run.waiting_timers()])


_DIFFS: dict[tuple[Any, ...], tuple[Any, Any, SpecDiff]] = {}
_DIFFS_KEPT = 64


def _diff(old: Any, new: Any) -> SpecDiff:
    """Return the SpecDiff of two specs, computed once per pair and wiring.

    It converts every element of both specs to compare them (about half of checking an
    instance), and every instance of a version shares its spec objects. The key holds the
    start's outputs, which grow when an event sub-process is wired in at its first trigger.
    """
    key = (id(old), id(new), tuple(s.name for s in old.start.outputs),
           tuple(s.name for s in new.start.outputs))
    found = _DIFFS.get(key)
    if found is None:
        if len(_DIFFS) >= _DIFFS_KEPT:
            _DIFFS.clear()
        # the specs are kept with the diff, so their ids cannot be reused meanwhile
        found = _DIFFS[key] = (old, new, SpecDiff(SERIALIZER.registry, old, new))
    return found[2]


def _workflows(run: Run, target: ParsedProcess, result: MigrationPlan) -> list[tuple[Any, Any]]:
    """Pair the top workflow and each entered sub-process with its spec in `target`."""
    pairs = [(run.workflow, target.spec)]
    for sub in run.workflow.subprocesses.values():
        spec = target.subprocess_specs.get(sub.spec.name)
        if spec is None:
            result.blockers.append(f"the sub-process {sub.spec.name!r} this case has entered "
                                   "is not in the new version")
        else:
            pairs.append((sub, spec))
    return pairs


def _wire_triggered(old: Any, new: Any) -> None:
    """Wire into `new` the event sub-processes `old` has been wired with (see above)."""
    start = old.start
    for name in getattr(start, "trigger_specs", ()):
        if start not in old.task_specs[name].inputs:
            continue  # never triggered on the old version
        spec = new.task_specs.get(name)
        if (spec is not None and name in getattr(new.start, "trigger_specs", ())
                and new.start not in spec.inputs):
            new.start.connect(spec)
            spec.connect(new.end)


def _check(workflow: Any, diff: SpecDiff, result: MigrationPlan) -> None:
    states: dict[Any, int] = {}
    for task in workflow.tasks.values():
        states[task.task_spec] = states.get(task.task_spec, 0) | task.state
    for old, held in states.items():
        new = diff.alignment.get(old)
        label = _label(old)
        if new is None or new.name != old.name:
            result.blockers.append(f"{label} is no longer in the new version")
            continue
        changes = [key for key in diff.comparisons.get(old) or []
                   if key not in FLOW_KEYS or _flows(old, key) != _flows(new, key)]
        if changes:
            result.changed.append(old.bpmn_id or old.name)
        _check_changes(held, changes, label, result)


def _check_changes(held: int, changes: list[str], label: str, result: MigrationPlan) -> None:
    """Refuse a change of kind or flows of an element the instance holds open or ahead."""
    if held & OPEN:
        structural = [k for k in changes if k in FLOW_KEYS or k in ("typename", "lane")]
        what = "open"
    elif held & AHEAD:
        structural = [k for k in changes if k in FLOW_KEYS]
        what = "ahead"
    else:
        return  # done: it stays as it was done
    if structural:
        result.blockers.append(f"{label}, {what} in this case, changed its "
                               f"{' and '.join(_words(structural))} in the new version")


def _flows(spec: Any, key: str) -> set[str]:
    return {s.name for s in getattr(spec, key)}


def _words(keys: list[str]) -> list[str]:
    names = {"typename": "kind", "lane": "lane (who does it)", "inputs": "incoming flows",
             "outputs": "outgoing flows"}
    return [names[k] for k in keys]


def _label(spec: Any) -> str:
    element = spec.bpmn_id or spec.name
    return f"the step «{spec.bpmn_name}» ({element})" if spec.bpmn_name else f"{element}"
