"""Helpers for the production tests: threads released together, fresh small instances,
and the invariants every race and crash must leave behind."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from caseflow import audit
from caseflow.db import db
from caseflow.models import AuditEvent, TaskRow, User, WorkflowInstance
from caseflow.services import runner

SYSTEM = audit.Actor(None, "test")


def actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, user.username, user.role_names[0])


@dataclass
class Result:
    """What one racing thread got: a value, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def at_once(*calls: Callable[[Callable[[], None]], Any]) -> list[Result]:
    """Run each call in its own thread and return what each got.

    A call gets `go`: it does its setup, calls `go()`, and the calls then carry on together
    (a barrier releases them at the same moment).
    """
    barrier = threading.Barrier(len(calls))
    results = [Result() for _ in calls]

    def run(i: int, call: Callable[[Callable[[], None]], Any]) -> None:
        try:
            results[i].value = call(lambda: barrier.wait(timeout=30))
        except BaseException as exc:
            results[i].error = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a racing thread hung"
    return results


def race(app: Flask, *contenders: tuple[int | None, Callable[[User | None], Any]]
         ) -> list[Result]:
    """Run each (user id, action) in its own thread, app context and session, released
    together; return what each got."""
    def contender(user_id: int | None, action: Callable[[User | None], Any]
                  ) -> Callable[[Callable[[], None]], Any]:
        def call(go: Callable[[], None]) -> Any:
            with app.app_context():
                try:
                    user = db.session.get(User, user_id) if user_id else None
                    if user is not None:
                        _ = user.role_names, user.class_ids  # load before the start signal
                    db.session.rollback()  # start from the latest commit, like a new request
                    go()
                    return action(user)
                finally:
                    db.session.remove()
        return call

    return at_once(*(contender(uid, fn) for uid, fn in contenders))


def answers(results: list[Result]) -> list[Any]:
    """Return what each racing call answered; raise the first error one of them met."""
    for r in results:
        if r.error is not None:
            raise r.error
    return [r.value for r in results]


def start_review(class_id: int, assignee_id: int | None = None) -> tuple[int, int]:
    """Start a small review_test instance whose Check task is open to a class's counselors;
    return (instance id, task id)."""
    outcome = runner.start_instance("review_test", {"level": "red"}, SYSTEM)
    [opened] = outcome.opened
    db.session.execute(update(TaskRow).where(TaskRow.id == opened.id)
                       .values(class_id=class_id, assignee_id=assignee_id))
    db.session.commit()
    return outcome.instance.id, opened.id


def version(instance_id: int) -> int:
    return db.session.scalar(select(WorkflowInstance.version)
                             .where(WorkflowInstance.id == instance_id))


def events(kind: str, **where: Any) -> int:
    query = select(func.count(AuditEvent.id)).where(AuditEvent.event_type == kind)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    return db.session.scalar(query)


def rows_match_state(instance_id: int) -> None:
    """Assert every ready task row is a READY user task of the instance, and vice versa."""
    instance = db.session.get(WorkflowInstance, instance_id, populate_existing=True)
    ready = {t.id for t in runner.load(instance).ready_human_tasks()}
    rows = set(db.session.scalars(select(TaskRow.spiff_task_id).where(
        TaskRow.instance_id == instance_id, TaskRow.state == "ready")))
    assert rows == ready, f"instance {instance_id}: task rows {rows} != workflow {ready}"


def unexpected(results: list[Result], *allowed: type[BaseException]) -> list[BaseException]:
    """Return the errors that are not of the allowed kinds (e.g. 'database is locked')."""
    return [r.error for r in results if r.error is not None
            and not isinstance(r.error, allowed)]


def worker_alive() -> None:
    """Note a timer worker's sign of life now (simulated time), as a running worker does."""
    from caseflow import clock
    from caseflow.services.beats import Beat

    Beat(clock.now(), name="test-worker").note(0, clock.now())


def worker_through_outage(begin: Callable[[], None], end: Callable[[], None]) -> list[float]:
    """Run the timer worker through an outage of its database: `begin` it once the
    worker's engine is connected, `end` it at the worker's second pause and stop the worker
    at its third; return the pauses the worker chose."""
    from caseflow import clock
    from caseflow.services import timers

    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            end()
        elif len(pauses) == 3:
            raise KeyboardInterrupt

    assert timers.next_due(clock.now()) is not None  # the worker's engine is connected
    db.session.close()
    begin()
    try:
        timers.run_worker(1.0, sleep=sleep)
    except KeyboardInterrupt:
        pass
    finally:
        if len(pauses) < 2:
            end()
    assert len(pauses) == 3, "the worker stopped by itself"
    return pauses


def saved_nothing_then_goes_through_once(client: Any, instance_id: int, task_id: int,
                                         form: dict[str, str], events_before: int) -> None:
    """Check a submission cut off mid-step saved nothing, and that submitting the same
    form again completes the task once."""
    assert version(instance_id) == 1
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events_before
    assert db.session.get(TaskRow, task_id).state == "ready"
    db.session.close()
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    db.session.expire_all()
    assert version(instance_id) == 2 and events("task_completed") == 1
    assert audit.verify(db.session).ok
