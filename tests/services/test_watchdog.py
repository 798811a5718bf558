"""The timer worker's watchdog: a database call unanswered past the limit is a stall; a
worker asleep between rounds, or one the database keeps answering, is not."""

from __future__ import annotations

import threading

from sqlalchemy import create_engine, text

from caseflow.services.watchdog import Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_worker_that_hears_nothing_past_the_limit_has_stalled():
    clock = Clock()
    watch = Watchdog(60, clock=clock)
    clock.now += 59.9
    assert watch.stalled() is None
    clock.now += 0.1
    assert watch.stalled() == "nothing heard from it for 60 s"


def test_the_call_in_flight_is_named_and_each_answer_starts_the_wait_again():
    clock = Clock()
    watch = Watchdog(10, clock=clock)
    for _ in range(5):
        clock.now += 9
        watch.heard()  # an answer
    watch.heard("COMMIT")
    clock.now += 12
    assert watch.stalled() == "no answer to COMMIT for 12 s"


def test_a_worker_asleep_between_rounds_never_stalls():
    clock = Clock()
    watch = Watchdog(5, clock=clock)

    def sleep(seconds: float) -> str:
        clock.now += seconds
        assert watch.stalled() is None  # an hour's sleep is no stall
        return "slept"

    assert watch.idle(sleep)(3600) == "slept"
    clock.now += 4.9  # awake: the wait counts from the waking, not from before the sleep
    assert watch.stalled() is None
    clock.now += 0.1
    assert watch.stalled() == "nothing heard from it for 5 s"


def test_a_limit_of_zero_turns_it_off():
    clock = Clock()
    watch = Watchdog(0, clock=clock)
    clock.now += 10 ** 6
    assert watch.stalled() is None


def test_it_hears_the_statements_commits_and_rollbacks_of_an_engine(tmp_path):
    clock = Clock()
    watch = Watchdog(10, clock=clock)
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    watch.attach(engine)
    heard = []
    real = watch.heard
    watch.heard = lambda sent=None: (heard.append(sent), real(sent))  # type: ignore[method-assign]
    with engine.connect() as conn:
        conn.execute(text("select 1"))
        conn.commit()
        conn.execute(text("create table t (x int)"))
        conn.rollback()
    # taken from the pool, a statement sent, its answer, and so on; given back at the end
    assert heard == [None, "SELECT", None, "COMMIT", "CREATE", None, "ROLLBACK", None]
    engine.dispose()


def test_its_thread_ends_a_stalled_worker_and_a_stopped_one_never():
    clock = Clock()
    called = threading.Event()
    found: list[str] = []
    watch = Watchdog(0.2, on_stall=lambda what: (found.append(what), called.set()),
                     clock=clock)
    clock.now += 1
    thread = watch.start()
    assert called.wait(10) and found == ["nothing heard from it for 1 s"]
    thread.join(10)
    assert not thread.is_alive()  # once is enough: the process ends

    quiet = Watchdog(0.2, on_stall=lambda what: found.append(what), clock=clock)
    quiet.stop()  # the worker command returned, and the process lives on (as under tests)
    clock.now += 1
    thread = quiet.start()
    thread.join(10)
    assert not thread.is_alive() and len(found) == 1


def test_a_request_thread_is_watched_from_its_start_to_its_end_only():
    clock = Clock()
    watch = Watchdog(30, clock=clock, busy=False)  # a web worker: busy only in a request
    watch.heard()  # a call outside any request (the warm-up) is not watched
    clock.now += 3600
    assert watch.stalled() is None
    watch.begin()
    clock.now += 29
    watch.heard("SELECT")
    clock.now += 30
    assert watch.stalled() == "no answer to SELECT for 30 s"
    watch.end()  # the request finished after all
    assert watch.stalled() is None


def test_one_thread_waiting_stalls_though_another_keeps_hearing_the_database():
    clock = Clock()
    watch = Watchdog(30, clock=clock, busy=False)
    stuck, go_on = threading.Event(), threading.Event()

    def hung_request() -> None:
        watch.begin()
        watch.heard("UPDATE")  # sent, and no answer comes
        stuck.set()
        go_on.wait(10)

    other = threading.Thread(target=hung_request)
    other.start()
    assert stuck.wait(10)
    watch.begin()
    for _ in range(10):
        clock.now += 5
        watch.heard()  # this thread's requests go on being answered
    assert watch.stalled() == "no answer to UPDATE for 50 s"
    go_on.set()
    other.join(10)
