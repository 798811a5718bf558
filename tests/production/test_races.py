"""Two sessions acting on the same task or instance at once, 200 rounds each, on the
database the suite runs on (SQLite, and PostgreSQL when CASEFLOW_TEST_DATABASE_URL is set).

Each round starts a fresh small instance, then releases two threads together (each with its
own app context, session and connection). Whatever the interleaving, exactly the allowed
outcomes happen, nothing is doubled, task rows match the workflow state, and no thread
sees anything but the documented answers (never "database is locked").
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import Case, Notification, TaskRow, TimerRow, WorkflowInstance
from caseflow.services import Conflict, cases, migration, runner, setup, timers
from caseflow.services import tasks as task_service
from tests import factories
from tests.conftest import DATA
from tests.production.support import (
    actor,
    events,
    race,
    rows_match_state,
    start_review,
    unexpected,
    version,
)

ROUNDS = 200
CHECK = {"needs_approval": False, "note": "已核实"}


def _complete(task_id: int, data: dict):
    return lambda user: task_service.complete_task(task_id, data, user, actor(user))


def test_two_completions_of_one_task_one_wins_the_other_is_told(app, people):
    winners = set()
    for _ in range(ROUNDS):
        instance_id, task_id = start_review(people.class1.id)
        before = version(instance_id)
        results = race(app, *[(u.id, _complete(task_id, CHECK))
                              for u in (people.counselor1, people.counselor1b)])
        assert unexpected(results, Conflict) == []
        ok = [r for r in results if r.ok]
        assert len(ok) == 1, [r.error for r in results]
        row = db.session.get(TaskRow, task_id)
        loser = next(r.error for r in results if not r.ok)
        winner = db.session.get(type(people.counselor1), row.completed_by)
        assert f"already completed by {winner.display_name}" in str(loser)
        assert row.state == "completed"
        assert version(instance_id) == before + 1
        assert events("task_completed", task_id=task_id) == 1
        rows_match_state(instance_id)
        winners.add(winner.username)
    assert audit.verify(db.session).ok
    print(f"winners seen: {sorted(winners)}")


def _claim(task_id: int):
    return lambda user: task_service.claim(task_id, user, actor(user))


def test_two_claims_of_one_task_one_gets_it(app, people):
    for _ in range(ROUNDS):
        instance_id, task_id = start_review(people.class1.id)
        before = version(instance_id)
        results = race(app, *[(u.id, _claim(task_id))
                              for u in (people.counselor1, people.counselor1b)])
        assert unexpected(results, Conflict) == []
        assert sum(r.ok for r in results) == 1, [r.error for r in results]
        assert "claimed this task first" in str(next(r.error for r in results if not r.ok))
        row = db.session.get(TaskRow, task_id)
        assert row.assignee_id in (people.counselor1.id, people.counselor1b.id)
        assert row.state == "ready" and version(instance_id) == before
        assert events("task_claimed", task_id=task_id) == 1
    assert audit.verify(db.session).ok


def _at_risk(people, n: int) -> Case:
    student = factories.student(f"2030{n:06d}", f"学生{n}", people.class1)
    db.session.commit()
    case, _ = cases.register(student.id, {
        "discovery_source": "screening", "category": "at_risk", "fraud_type": "fake_job",
        "what_happened": "网上兼职", "ongoing": "unknown"},
        people.counselor1, actor(people.counselor1))
    return case


def _withdraw(case_id: int):
    return lambda user: cases.withdraw(case_id, "误报", user, actor(user))


TALK = {"reached_how": "in_person", "ongoing": "no", "what_happened": "已停止联系",
        "mood": "worried"}


def test_a_completion_and_a_withdrawal_at_once_never_half_apply(app, people):
    seen = set()
    for n in range(ROUNDS):
        case = _at_risk(people, n)
        instance_id = cases.case_instance(case).id
        talk = db.session.scalar(select(TaskRow.id).where(
            TaskRow.case_id == case.id, TaskRow.task_spec == "talk", TaskRow.state == "ready"))
        before = version(instance_id)
        data = {**TALK, "talked_at": clock.now().isoformat()}
        done, withdrawn = race(app, (people.counselor1.id, _complete(talk, data)),
                               (people.officer1.id, _withdraw(case.id)))
        assert unexpected([done, withdrawn], Conflict) == []
        assert done.ok or withdrawn.ok
        if not done.ok:
            assert "already closed" in str(done.error)
        seen.add((done.ok, withdrawn.ok))
        db.session.expire_all()
        case = db.session.get(Case, case.id)
        assert (case.state == "withdrawn") == withdrawn.ok
        assert events("task_completed", task_id=talk) == int(done.ok)
        assert events("case_withdrawn", case_id=case.id) == int(withdrawn.ok)
        assert version(instance_id) == before + done.ok + withdrawn.ok
        rows_match_state(instance_id)
        if withdrawn.ok:
            assert not db.session.scalars(select(TaskRow).where(
                TaskRow.case_id == case.id, TaskRow.state == "ready")).all()
    assert audit.verify(db.session).ok
    assert seen <= {(True, True), (True, False), (False, True)}
    print(f"complete/withdraw outcomes (completed, withdrawn): {sorted(seen)}")


def _fire(now):
    return lambda _: timers.fire_due(now)


def test_the_worker_and_a_person_at_once_fire_once_and_complete_once(app, people):
    fired_rounds = 0
    for _ in range(ROUNDS):
        instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
        later = clock.now() + timedelta(hours=3)  # the Check timer (2 h) is due for the worker
        before = version(instance_id)
        worker, person = race(app, (None, _fire(later)),
                              (people.counselor1.id, _complete(task_id, CHECK)))
        assert worker.error is None and person.error is None, (worker.error, person.error)
        fired = events("timer_fired", case_id=None) - fired_rounds
        assert worker.value == fired and fired in (0, 1)
        timer = db.session.scalar(select(TimerRow).where(TimerRow.instance_id == instance_id))
        assert timer.state == ("fired" if fired else "cancelled")
        assert events("task_completed", task_id=task_id) == 1
        assert version(instance_id) == before + 1 + fired
        notes = db.session.scalars(select(Notification).where(
            Notification.task_id == task_id)).all()
        assert bool(notes) == bool(fired)
        rows_match_state(instance_id)
        fired_rounds += fired
    assert audit.verify(db.session).ok
    print(f"worker fired first in {fired_rounds} of {ROUNDS} rounds")


def _move(instance_id: int, target_id: int):
    return lambda _user: migration.move_instance(instance_id, target_id, audit.SYSTEM)


def test_moving_a_case_to_another_version_while_its_step_is_completed(app, people):
    # two versions of review_test that differ in a script; each round starts an instance
    # on one, makes the other current, and races the move against the person's step
    first = (DATA / "review_test.bpmn").read_text(encoding="utf-8")
    versions = [first.encode(), first.replace(
        "approve_due = due_time(", "checked = True\napprove_due = due_time(").encode()]
    moved_rounds = 0
    for n in range(ROUNDS // 2):
        setup.deploy_sources({"review_test.bpmn": versions[n % 2]}, "test")
        instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
        setup.deploy_sources({"review_test.bpmn": versions[(n + 1) % 2]}, "test")
        target = runner.latest_version("review_test").id
        before = version(instance_id)
        mover, person = race(app, (None, _move(instance_id, target)),
                             (people.counselor1.id, _complete(task_id, CHECK)))
        assert mover.error is None and person.error is None, (mover.error, person.error)
        move = mover.value
        assert move.moved or move.blockers in (
            ["its process ended, or it was moved, before it could be moved"],
            ["someone changed this case while it was being moved: run the command again"])
        instance = db.session.get(WorkflowInstance, instance_id, populate_existing=True)
        assert instance.status == "completed"
        assert events("task_completed", task_id=task_id) == 1
        assert version(instance_id) == before + 1 + move.moved
        assert (instance.process_version_id == target) == move.moved
        rows_match_state(instance_id)
        moved_rounds += move.moved
    assert events("process_migrated") == moved_rounds
    assert audit.verify(db.session).ok
    print(f"moved before the step in {moved_rounds} of {ROUNDS // 2} rounds")
