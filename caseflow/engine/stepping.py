"""Run a workflow's engine steps as `BpmnWorkflow.do_engine_steps` does, finding ready tasks faster.

SpiffWorkflow finds the ready engine tasks by walking the whole task tree (and every
sub-process tree) with a generator, on every pass of every step: two thirds of a
`fraud_case` step went there. Ready tasks are few, so this scans the workflows' flat task
tables instead, and only when more than one engine task is ready does it ask the tree for
them, so that they run in exactly the order SpiffWorkflow would run them.

SpiffWorkflow also updates every waiting task after each task completes, again by walking
the tree with its general iterator (filters, depth bookkeeping, a parent walk per leaf):
`install_waiting_update` puts in a plain depth-first walk that visits the same tasks in the
same order, expanding a task's children before updating it as the iterator does.

With CASEFLOW_ENGINE_CHECK=1 (the test suite sets it) every pass also walks the tree and
fails loudly if the two ever disagree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from SpiffWorkflow.util.task import TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

Hook = Callable[[Any], None]
READY = TaskState.READY
WAITING = TaskState.WAITING
FUTURE = TaskState.FUTURE


def do_engine_steps(workflow: Any, will_complete: Hook, did_complete: Hook) -> None:
    """Run every ready engine task until only people's tasks and waits are left."""
    while _one_pass(workflow, will_complete, did_complete):
        pass
    workflow.refresh_timers()


def _one_pass(workflow: Any, will: Hook, did: Hook) -> bool:
    active = workflow.get_active_subprocesses()
    for subprocess in sorted(active, key=lambda v: v.depth, reverse=True):
        while _run_ready(subprocess, workflow, will, did):
            pass
        if subprocess.parent_task_id is not None:
            task = workflow.get_task_from_id(subprocess.parent_task_id)
            task.task_spec._update(task)
    count = _run_ready(workflow, workflow, will, did)
    return count > 0 or len(workflow.get_active_subprocesses()) > len(active)


def _run_ready(wf: Any, top: Any, will: Hook, did: Hook) -> int:
    ready = ready_engine_tasks(wf, top)
    for task in ready:
        will(task)
        task.run()
        did(task)
    return len(ready)


def ready_engine_tasks(wf: Any, top: Any) -> list[Any]:
    """Return the ready tasks no person does, of `wf` and the sub-processes below it."""
    found = _flat(wf, top)
    if len(found) > 1 or _checking():
        in_order = [t for t in wf.get_tasks(state=READY) if not t.task_spec.manual]
        if _checking() and {t.id for t in in_order} != {t.id for t in found}:
            raise AssertionError(f"ready tasks differ: tree {in_order}, tables {found}")
        return in_order
    return found


def _flat(wf: Any, top: Any) -> list[Any]:
    found = [t for t in wf.tasks.values() if t.state == READY and not t.task_spec.manual]
    for sub in top.subprocesses.values():
        if sub is not wf and sub.parent_task_id in wf.tasks:
            found.extend(_flat(sub, top))
    return found


def _checking() -> bool:
    return os.environ.get("CASEFLOW_ENGINE_CHECK") == "1"


def install_waiting_update() -> None:
    """Make every (sub-)workflow update its waiting tasks with `update_waiting_tasks`."""
    Workflow.update_waiting_tasks = update_waiting_tasks  # type: ignore[method-assign]


def update_waiting_tasks(workflow: Any) -> None:
    """Update the workflow's waiting tasks, in the order SpiffWorkflow's walk visits them."""
    if _checking():
        tree = [t.id for t in TaskIterator(workflow.task_tree, state=WAITING)]
        mine = [t.id for t in _waiting(workflow)]
        if tree != mine:
            raise AssertionError(f"waiting tasks differ: tree {tree}, walk {mine}")
    for task in _waiting(workflow):
        task.task_spec._update(task)


def _waiting(workflow: Any) -> Iterator[Any]:
    # Lazily, like the iterator: a task's children are taken before the task is yielded
    # (and updated), and a task added meanwhile is met if its place is still ahead.
    tasks, pending = workflow.tasks, [workflow.task_tree]
    while pending:
        task = pending.pop()
        # the iterator descends into definite and finished tasks, never into predicted ones
        if task._children and task._state >= FUTURE:
            pending.extend(tasks[c] for c in reversed(task._children))
        if task._state == WAITING:
            yield task
