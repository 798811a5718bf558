"""The demo as `caseflow demo` prepares it: a school, living cases, warnings, a round."""

from __future__ import annotations

from sqlalchemy import func, select

from caseflow import audit
from caseflow.db import db
from caseflow.models import (
    Case,
    PoliceWarning,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
    TaskRow,
)
from caseflow.services import demo


def test_the_demo_has_cases_warnings_and_a_screening_round(app):
    lines = list(demo.prepare(lambda: None))
    assert any(line.startswith("demo accounts") for line in lines)
    assert db.session.scalar(select(func.count(Case.id))) >= 7  # six stories + a screening find
    states = dict(db.session.execute(select(PoliceWarning.source_ref, PoliceWarning.state)).all())
    assert states["GA-DEMO-0003"] == "candidates"
    assert states["GA-DEMO-0004"] == "unmatched"
    assert states["GA-DEMO-0001"] != states["GA-DEMO-0002"]  # one done, one still running
    running = db.session.scalar(select(PoliceWarning).where(
        PoliceWarning.source_ref == "GA-DEMO-0002"))
    open_reach = db.session.scalars(select(TaskRow.task_spec).where(
        TaskRow.instance_id == running.instance_id, TaskRow.state == "ready")).all()
    assert sorted(open_reach) == ["reach_counselor", "reach_security"]
    rnd = db.session.scalar(select(ScreeningRound))
    done = db.session.scalar(select(func.count(ScreeningClass.id)).where(
        ScreeningClass.round_id == rnd.id, ScreeningClass.state == "done"))
    assert done == 3 and rnd.classes > 3
    assert db.session.scalar(select(func.count(ScreeningEntry.id)).where(
        ScreeningEntry.status == "flagged")) == 1
    assert audit.verify(db.session).ok


def test_preparing_again_creates_nothing_twice(app):
    list(demo.prepare(lambda: None))
    counts = [db.session.scalar(select(func.count(m.id)))
              for m in (Case, PoliceWarning, ScreeningRound)]
    list(demo.prepare(lambda: None))
    assert [db.session.scalar(select(func.count(m.id)))
            for m in (Case, PoliceWarning, ScreeningRound)] == counts
