"""The fast ready-task scan finds what SpiffWorkflow's tree walk finds, in its order."""

from __future__ import annotations

import pytest

from caseflow.engine import stepping


class _Spec:
    def __init__(self, manual: bool) -> None:
        self.manual = manual


class _Task:
    def __init__(self, tid: int, state: int, manual: bool = False) -> None:
        self.id, self.state, self.task_spec = tid, state, _Spec(manual)

    def __repr__(self) -> str:
        return f"task{self.id}"


class _Workflow:
    def __init__(self, tasks: list[_Task], tree_order: list[_Task], parent: int | None = None
                 ) -> None:
        self.tasks = {t.id: t for t in tasks}
        self.tree_order, self.parent_task_id, self.subprocesses = tree_order, parent, {}

    def get_tasks(self, state: int) -> list[_Task]:
        return [t for t in self.tree_order if t.state == state]


READY, WAITING = stepping.READY, 8


def test_one_ready_task_is_found_without_the_tree(monkeypatch):
    monkeypatch.setenv("CASEFLOW_ENGINE_CHECK", "0")
    people, engine = _Task(1, READY, manual=True), _Task(2, READY)
    wf = _Workflow([people, engine, _Task(3, WAITING)], tree_order=[])  # the tree is not asked
    assert stepping.ready_engine_tasks(wf, wf) == [engine]


def test_several_ready_tasks_run_in_the_tree_order(monkeypatch):
    monkeypatch.setenv("CASEFLOW_ENGINE_CHECK", "0")
    a, b = _Task(1, READY), _Task(2, READY)
    wf = _Workflow([a, b], tree_order=[b, a])
    assert stepping.ready_engine_tasks(wf, wf) == [b, a]


def test_ready_tasks_of_subprocesses_below_count(monkeypatch):
    monkeypatch.setenv("CASEFLOW_ENGINE_CHECK", "0")
    host, inner = _Task(1, 32), _Task(5, READY)
    top = _Workflow([host], tree_order=[])
    top.subprocesses = {1: _Workflow([inner], tree_order=[inner], parent=1)}
    assert stepping.ready_engine_tasks(top, top) == [inner]


def test_the_check_fails_loudly_when_the_two_disagree(monkeypatch):
    monkeypatch.setenv("CASEFLOW_ENGINE_CHECK", "1")
    wf = _Workflow([_Task(1, READY)], tree_order=[])
    with pytest.raises(AssertionError, match="ready tasks differ"):
        stepping.ready_engine_tasks(wf, wf)
