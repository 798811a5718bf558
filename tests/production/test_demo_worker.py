"""The demo fires escalations while someone watches: its thread runs `caseflow worker`'s loop."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

from caseflow import clock
from caseflow.db import db
from caseflow.models import TimerRow
from caseflow.services import demo
from tests.production.support import start_review


def test_the_demo_worker_thread_fires_a_timer_that_falls_due_while_it_runs(app, people):
    instance_id, _ = start_review(people.class1.id, people.counselor1.id)
    clock.advance(timedelta(hours=3))  # the review's timer is now due
    stop = threading.Event()
    thread = demo.start_worker(app, interval=0.05, stop=stop)
    deadline, state = time.monotonic() + 30, "waiting"
    try:
        while state == "waiting" and time.monotonic() < deadline:
            time.sleep(0.05)  # the thread's round, not the timer, is what we wait for
            db.session.rollback()
            state = db.session.scalar(select(TimerRow.state)
                                      .where(TimerRow.instance_id == instance_id))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert state == "fired"
    assert not thread.is_alive()  # a stop ends the thread
