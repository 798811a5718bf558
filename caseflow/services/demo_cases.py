"""Open the demo's cases through the real services, at different steps (some overdue).

Each story registers a case some time ago (the clock is pinned to the past), completes
the steps a person would have completed by now, and fires the timers that fell due on
the way, so the demo shows living cases: escalations, overdue tasks, closed files.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import Case, ProcessVersion, Student, TaskRow, User, UserRole
from caseflow.services import cases, timers
from caseflow.services import tasks as task_service


def _user_for(row: TaskRow) -> User:
    if row.assignee_id:
        return db.session.get(User, row.assignee_id)
    query = select(User).join(UserRole).where(UserRole.role == row.role)
    if row.role == "college_officer":
        query = query.where(User.college_id == row.college_id)
    return db.session.scalars(query.order_by(User.id)).first()


def _actor(user: User, role: str | None) -> audit.Actor:
    return audit.Actor(user.id, user.username, role, "127.0.0.1", "caseflow demo")


def complete(case: Case, step: str, data: dict[str, Any]) -> None:
    """Complete the open task `step` of a case as the person who holds it."""
    row = db.session.scalars(select(TaskRow).where(
        TaskRow.case_id == case.id, TaskRow.task_spec == step, TaskRow.state == "ready")
        .order_by(TaskRow.id)).first()
    if row is None:
        raise LookupError(f"case {case.number} has no open step {step}")
    user = _user_for(row)
    if row.assignee_id is None and row.role not in ("counselor",):
        task_service.claim(row.id, user, _actor(user, row.role))
    task_service.complete_task(row.id, data, user, _actor(user, row.role))


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


class Story:
    """One demo case, told from its registration `ago` to now."""

    def __init__(self, student: Student, ago: timedelta) -> None:
        self.student, self.start = student, clock.now() - ago
        self.at = self.start
        self.case: Case | None = None

    def step(self, after: timedelta, action: Callable[[], None]) -> None:
        """Move the story's time on, fire what fell due, then act."""
        self.at += after
        timers.fire_due(self.at)
        with clock.pinned(self.at):
            action()

    def register(self, registrar: User, **facts: Any) -> None:
        story = facts.pop("story", "学生反映情况")
        data = {"discovery_source": "counselor_talk", "what_happened": f"演示案件：{story}",
                "happened_at": _iso(self.at - timedelta(hours=3)),
                "discovered_at": _iso(self.at - timedelta(minutes=30)), **facts}
        with clock.pinned(self.at):
            self.case, _ = cases.register(self.student.id, data, registrar,
                                          _actor(registrar, registrar.role_names[0]))

    def do(self, after: timedelta, step: str, **data: Any) -> None:
        self.step(after, lambda: complete(self.case, step, data))


def _talk(at: datetime, **extra: Any) -> dict[str, Any]:
    return {"reached_how": "in_person", "talked_at": _iso(at), "place": "学工办谈话室",
            "ongoing": "no", "what_happened": "学生讲述了经过，已停止与对方联系。",
            "mood": "worried", **extra}


def _stories(students: list[Student], counselor_of: Callable[[Student], User],
             officer: User, security: User) -> Iterator[tuple[str, Callable[[], None]]]:
    s = iter(students)

    def victim_stop_payment() -> None:
        st = next(s)
        story = Story(st, timedelta(hours=1, minutes=10))
        story.register(counselor_of(st), category="victim", fraud_type="order_brushing",
                       loss_cny="8000.00", money_source="living_expenses",
                       last_transfer_at=_iso(story.at - timedelta(hours=2)), ongoing="no",
                       story="刷单返利，转账 8000 元")

    def involved_bank_card() -> None:
        st = next(s)
        story = Story(st, timedelta(days=2))
        story.register(security, category="involved", behaviour="bank_card",
                       discovery_source="police_notice", story="出租银行卡给他人使用")
        story.do(timedelta(hours=3), "talk", **_talk(story.at + timedelta(hours=3),
                 knowing="unclear", involvement="将银行卡借给网友使用", activity_stopped=True))
        story.do(timedelta(hours=2), "triage_review", counselor_id=story.case.counselor_id,
                 plan="配合公安核查，开展法治教育，暂停评奖评优。")

    def at_risk_followup() -> None:
        st = next(s)
        story = Story(st, timedelta(days=6))
        story.register(counselor_of(st), category="at_risk", fraud_type="fake_job",
                       discovery_source="screening", risk_signs=["part_time_jobs"],
                       story="摸排发现学生参与网络兼职刷单群")
        story.do(timedelta(hours=20), "talk", **_talk(story.at + timedelta(hours=20)))
        story.do(timedelta(hours=5), "triage_review", counselor_id=story.case.counselor_id,
                 plan="加强提醒，一周后回访。")
        story.do(timedelta(days=1), "parent_contact", guardian="家长", relation="母亲",
                 channel="phone", contacted_at=_iso(story.at + timedelta(days=1)),
                 reached=True, talking_points=["watch_cards_money", "install_app"],
                 family_response="家长表示会关注")

    def crisis_in_talk() -> None:
        st = next(s)
        story = Story(st, timedelta(hours=3))
        story.register(counselor_of(st), category="victim", fraud_type="romance_scam",
                       loss_cny="3000.00", money_source="borrowed", story="网络交友被骗")
        story.do(timedelta(minutes=40), "talk", **_talk(
            story.at + timedelta(minutes=40), mood="distressed", crisis_indicated=True))

    def major_case() -> None:
        st = next(s)
        story = Story(st, timedelta(minutes=50))
        story.register(counselor_of(st), category="victim", fraud_type="fake_authority",
                       loss_cny="62000.00", money_source="parents",
                       last_transfer_at=_iso(story.at - timedelta(days=3)), ongoing="no",
                       story="冒充公检法，被骗 62000 元")

    def withdrawn_false_alarm() -> None:
        st = next(s)
        story = Story(st, timedelta(days=1))
        story.register(counselor_of(st), category="at_risk", fraud_type="online_loan",
                       risk_signs=["online_loans"], story="同学反映其使用网贷")
        reason = "核实为正规助学贷款，属误报"
        story.step(timedelta(hours=4), lambda: cases.withdraw(
            story.case.id, reason, officer, _actor(officer, "college_officer")))

    yield "victim, money moved 2 h ago: stop-payment overdue", victim_stop_payment
    yield "involved, bank card rented out: police hand-over and discipline", involved_bank_card
    yield "at risk from screening: parent contacted, follow-up waiting", at_risk_followup
    yield "victim with a crisis in the talk: urgent psych referral", crisis_in_talk
    yield "major case (62,000 CNY): lead office acknowledgement", major_case
    yield "at risk, withdrawn as a false alarm", withdrawn_false_alarm


def open_all() -> Iterator[str]:
    """Open the demo's spread of cases."""
    if db.session.scalar(select(ProcessVersion.id).where(
            ProcessVersion.process_id == "fraud_case")) is None:
        yield "no fraud_case process deployed: the demo has no cases yet"
        return
    rng = random.Random(20261123)
    college = db.session.scalars(select(User).join(UserRole).where(
        UserRole.role == "college_officer").order_by(User.id)).first()
    students = db.session.scalars(select(Student).where(Student.status == "在校")
                                  .order_by(Student.id)).all()
    mine = [st for st in students if st.klass.college_id == college.college_id]
    rng.shuffle(mine)
    security = db.session.scalars(select(User).join(UserRole).where(
        UserRole.role == "security_office")).first()

    def counselor_of(student: Student) -> User:
        return db.session.get(User, cases.default_counselor(student.class_id))

    for label, story in _stories(mine, counselor_of, college, security):
        story()
        yield f"demo case: {label}"
    from caseflow.services import demo_discovery

    yield from demo_discovery.open_all(mine[10:])
    timers.fire_due(clock.now())
