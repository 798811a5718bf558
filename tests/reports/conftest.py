"""A known school for the report tests: cases across colleges, categories, periods and
outcomes, registered through the services at simulated times (plus a few direct case rows
where only the mirror matters), a police warning set and a screening round.

The period under test is the two-week window Mon 2025-09-15 00:00 – Mon 2025-09-29 00:00
(Asia/Shanghai): the term starts Mon 2025-09-01. "Now" is 2025-10-02 10:00.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from caseflow import audit, clock, timefmt
from caseflow.db import db
from caseflow.models import (
    Case,
    College,
    Klass,
    PoliceWarning,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
    Setting,
    TaskRow,
)
from caseflow.services import cases
from caseflow.services import tasks as task_service
from tests import factories


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """Return an Asia/Shanghai time."""
    return datetime(y, m, d, h, mi, tzinfo=timefmt.SHANGHAI)


NOW = at(2025, 10, 2, 10)


def actor(user):
    return audit.Actor(user.id, user.username, user.role_names[0])


def finding(category: str, happened: datetime, loss: str = "0", transfer: datetime | None = None,
            **extra):
    data = {"discovery_source": "counselor_talk", "category": category,
            "what_happened": "经过", "happened_at": happened.isoformat(), "loss_cny": loss,
            "ongoing": "no", **extra}
    if category != "involved":
        data.setdefault("fraud_type", "order_brushing")
    else:
        data.setdefault("behaviour", "bank_card")
    if transfer is not None:
        data["last_transfer_at"] = transfer.isoformat()
    return data


def register(student, user, when: datetime, data: dict) -> Case:
    with clock.pinned(when):
        case, _ = cases.register(student.id, data, user, actor(user))
    return db.session.get(Case, case.id)


def complete(case: Case, step: str, user, when: datetime, **data) -> None:
    row = db.session.scalar(select(TaskRow).where(
        TaskRow.case_id == case.id, TaskRow.task_spec == step, TaskRow.state == "ready"))
    assert row is not None, f"no open {step} on {case.number}"
    with clock.pinned(when):
        if row.assignee_id is None:
            task_service.claim(row.id, user, actor(user))
        task_service.complete_task(row.id, data, user, actor(user))


def direct(student, when: datetime, category: str = "victim", loss: str = "0", **extra) -> Case:
    """Add a case row without a process (the report reads only the mirror)."""
    klass = db.session.get(Klass, student.class_id)
    row = Case(number="", process_id="fraud_case", student_id=student.id,
               college_id=klass.college_id, class_id=klass.id, category=category,
               fraud_type=extra.pop("fraud_type", "fake_shopping"), risk_level="orange",
               state=extra.pop("state", "open"), flags="{}", registered_at=when,
               happened_at=extra.pop("happened_at", when), loss_cny=Decimal(loss), **extra)
    db.session.add(row)
    db.session.flush()
    row.number = f"DX{row.id:06d}"
    db.session.commit()
    return row


def _talk(when: datetime) -> dict:
    return {"reached_how": "in_person", "talked_at": when.isoformat(), "ongoing": "no",
            "what_happened": "谈话", "mood": "worried"}


def _stop(when: datetime) -> dict:
    return {"bank": "某银行", "account": "6222000011112222", "amount_cny": "100.00",
            "police_called_at": when.isoformat(), "freeze_result": "frozen"}


@pytest.fixture
def school(app):
    """Build the known school and return its pieces (cases by letter)."""
    w = factories.deployed_org()
    c3 = College(code="C03", name="艺术设计学院")
    db.session.add(c3)
    db.session.flush()
    k4 = Klass(code="K4", name="设计2401班", grade=2024, college_id=c3.id)
    db.session.add(k4)
    db.session.add(Setting(key="term_start_dates", value=json.dumps(["2025-09-01", "2026-02-23"])))
    db.session.commit()
    w.college3, w.class4 = c3, k4
    s = {n: factories.student(f"20249{n:05d}", f"学生{n}", k) for n, k in (
        (2, w.class2), (4, w.class1), (5, w.class3), (6, w.class1), (7, w.class3),
        (8, w.class2), (9, w.class3), (10, w.class1), (11, w.class2), (12, w.class1),
        (13, w.class3))}
    s[1], s[3] = w.student1, w.student3
    db.session.commit()
    w.s = s
    c1, c3_ = w.counselor1, w.counselor3
    k = {}
    # A: victim, K1, in the period, stop-payment done in 20 min, talk, psych accepted
    k["A"] = register(s[1], c1, at(2025, 9, 16, 14), finding(
        "victim", at(2025, 9, 16, 10), "8000.00", transfer=at(2025, 9, 16, 12)))
    complete(k["A"], "stop_payment", w.security, at(2025, 9, 16, 14, 20), **_stop(
        at(2025, 9, 16, 14, 10)))
    complete(k["A"], "talk", c1, at(2025, 9, 16, 15), **_talk(at(2025, 9, 16, 15)))
    complete(k["A"], "psych_accept", w.psych, at(2025, 9, 17, 9), accept="accept",
             first_session_at=at(2025, 9, 20, 9).isoformat())
    # B: victim, K2, happened 23:59 on the last day of the period, registered after it
    k["B"] = register(s[2], w.counselor2, at(2025, 9, 29, 9), finding(
        "victim", at(2025, 9, 28, 23, 59), "1234.56", fraud_type="fake_shopping"))
    # C: victim, K3, happened 00:00 on the first day after the period
    k["C"] = register(s[3], c3_, at(2025, 9, 29, 8), finding(
        "victim", at(2025, 9, 29, 0, 0), "500.00"))
    # D: involved, K1
    k["D"] = register(s[4], c1, at(2025, 9, 21, 10), finding("involved", at(2025, 9, 20, 9)))
    # E: at-risk, K3, registered at 00:00 on the period's first day
    k["E"] = register(s[5], c3_, at(2025, 9, 15, 0, 0), finding(
        "at_risk", at(2025, 9, 10, 9), fraud_type="fake_job"))
    # F: victim, K1, happened in the window before, registered in the period (late)
    k["F"] = register(s[6], c1, at(2025, 9, 17, 11), finding(
        "victim", at(2025, 9, 5, 20), "300.00"))
    # G: victim, K3, withdrawn; H: victim, K2, downgraded; I: A's student again, closed
    k["G"] = direct(s[7], at(2025, 9, 18, 10), loss="2000.00", withdrawn=True,
                    state="withdrawn")
    k["H"] = direct(s[8], at(2025, 9, 19, 10), loss="100.00", downgraded=True)
    k["I"] = direct(s[1], at(2025, 9, 25, 10), loss="700.00", state="closed",
                    recovered_cny=Decimal("200.00"), closed_at=at(2025, 9, 27, 10))
    # J: victim, K3: first finding in the window before, a second one (400.00) in the period
    k["J"] = register(s[9], c3_, at(2025, 9, 3, 9), finding(
        "victim", at(2025, 9, 2, 9), "1000.00"))
    register(s[9], c3_, at(2025, 9, 22, 9), finding("victim", at(2025, 9, 21, 9), "400.00"))
    # K: at-risk, K1, registered at 23:59 on the day before the period
    k["K"] = register(s[10], c1, at(2025, 9, 14, 23, 59), finding(
        "at_risk", at(2025, 9, 14, 9), fraud_type="fake_job"))
    # L: victim, K2: stop-payment done in 90 min; psych declined
    k["L"] = register(s[11], w.counselor2, at(2025, 9, 22, 10), finding(
        "victim", at(2025, 9, 22, 8), "2500.00", transfer=at(2025, 9, 22, 9),
        fraud_type="fake_shopping"))
    complete(k["L"], "stop_payment", w.security, at(2025, 9, 22, 11, 30), **_stop(
        at(2025, 9, 22, 10, 30)))
    complete(k["L"], "talk", w.counselor2, at(2025, 9, 22, 12), **_talk(at(2025, 9, 22, 12)))
    complete(k["L"], "psych_accept", w.psych, at(2025, 9, 23, 9), accept="decline",
             decline_reason="已在校外就诊")
    # M: victim, K1: stop-payment still open
    k["M"] = register(s[12], c1, at(2025, 9, 24, 16), finding(
        "victim", at(2025, 9, 24, 9), "50.00", transfer=at(2025, 9, 24, 15)))
    w.k = {name: db.session.get(Case, c.id) for name, c in k.items()}
    _warnings(w)
    _screening(w)
    return w


def _warnings(w: SimpleNamespace) -> None:
    """Four warnings in the period (three matched), one before it."""
    rows = [  # (college, class, warned, reached after minutes or None, dissuaded)
        (w.college1, w.class1, at(2025, 9, 16, 9), 20, True),
        (w.college1, w.class2, at(2025, 9, 18, 9), 45, False),
        (w.college2, w.class3, at(2025, 9, 20, 9), 30, True),
        (None, None, at(2025, 9, 21, 9), None, None),
        (w.college1, w.class1, at(2025, 9, 10, 9), 5, True),
    ]
    for n, (college, klass, warned, minutes, dissuaded) in enumerate(rows, 1):
        reached = warned + timedelta(minutes=minutes) if minutes is not None else None
        db.session.add(PoliceWarning(
            number=f"YJ{n:04d}", source="cli", warned_at=warned, state="reached" if reached
            else "unmatched", college_id=college.id if college else None,
            class_id=klass.id if klass else None, reached_at=reached,
            minutes_to_reach=minutes, dissuaded=dissuaded, loss_cny=Decimal("0.00"),
            created_at=warned))
    db.session.commit()


def _screening(w: SimpleNamespace) -> None:
    """A round started in the period: K1 done late, K2 open past due, K3 on time."""
    rnd = ScreeningRound(number="MP0001", started_at=at(2025, 9, 15, 9),
                         due_at=at(2025, 9, 22, 9), classes=3, students=3)
    db.session.add(rnd)
    db.session.flush()
    plan = ((w.class1, at(2025, 9, 23, 9)), (w.class2, None), (w.class3, at(2025, 9, 20, 9)))
    for klass, done in plan:
        sc = ScreeningClass(round_id=rnd.id, class_id=klass.id, college_id=klass.college_id,
                            state="done" if done else "open", students=1,
                            due_at=rnd.due_at, done_at=done)
        db.session.add(sc)
        db.session.flush()
        if done is not None:
            student = w.s[4] if klass is w.class1 else w.s[13]
            db.session.add(ScreeningEntry(round_id=rnd.id, screening_class_id=sc.id,
                                          class_id=klass.id, student_id=student.id,
                                          status="not_reached", reason="实习"))
    db.session.commit()
