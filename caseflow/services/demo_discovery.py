"""Give the demo police warnings and a screening round, through the real services.

A warning reached in time two days ago (with the police feedback given), one matched a
quarter of an hour ago whose "reach the student" tasks are running, one known only by a
name (candidates to pick from) and one nobody matches; and a school-wide screening round
started three days ago, with a few classes already screened.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import ProcessVersion, ScreeningClass, Student, TaskRow, User, UserRole
from caseflow.services import screening, timers, warnings
from caseflow.services import screening_import as imports
from caseflow.services import tasks as task_service


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _actor(user: User | None, role: str) -> audit.Actor:
    if user is None:
        return audit.Actor(None, "demo", role)
    return audit.Actor(user.id, user.username, role, "127.0.0.1", "caseflow demo")


def _first(role: str) -> User:
    return db.session.scalars(select(User).join(UserRole).where(UserRole.role == role)
                              .order_by(User.id)).first()


def _deployed(process_id: str) -> bool:
    return db.session.scalar(select(ProcessVersion.id).where(
        ProcessVersion.process_id == process_id).limit(1)) is not None


def open_all(students: list[Student]) -> Iterator[str]:
    """Enter the demo's warnings and start its screening round; yield lines to print."""
    if _deployed("warning_dissuasion") and len(students) >= 3:
        yield from _warnings(students)
    if _deployed("class_screening") and _deployed("screening_round"):
        yield from _screening()


def _warning(security: User, at: datetime, ref: str, **who: Any) -> Any:
    data = {"warned_at": _iso(at), "fraud_type": "fake_ecommerce_service", "urgency": "urgent",
            "source_ref": ref, "note": "反诈中心预警：该学生正与冒充客服人员通话，疑似被诱导转账。",
            **who}
    with clock.pinned(at):
        return warnings.add_warning(data, security, _actor(security, "security_office"))


def _warnings(students: list[Student]) -> Iterator[str]:
    security, now = _first("security_office"), clock.now()
    reached, running, named = students[0], students[1], students[2]
    earlier = now - timedelta(days=2)
    warning = _warning(security, earlier, "GA-DEMO-0001", phone=reached.phone)
    _complete(warning.instance_id, "reach_counselor", earlier + timedelta(minutes=22), {
        "reached_at": _iso(earlier + timedelta(minutes=20)), "reached_how": "in_person",
        "dissuaded": True, "money_transferred": False,
        "what_happened": "在宿舍找到学生，当场挂断电话，未转账。"})
    _complete(warning.instance_id, "police_feedback", earlier + timedelta(hours=1), {
        "fed_back_at": _iso(earlier + timedelta(hours=1)), "channel": "phone",
        "content": "已向反诈中心反馈：学生已劝阻，未受损失。"})
    yield "demo warning: reached after 20 minutes, fed back to the police"
    _warning(security, now - timedelta(minutes=12), "GA-DEMO-0002", phone=running.phone)
    yield "demo warning: matched 12 minutes ago, reach-the-student tasks running"
    _warning(security, now - timedelta(minutes=30), "GA-DEMO-0003", name=named.name)
    yield "demo warning: a name only, candidates to pick from"
    _warning(security, now - timedelta(hours=1), "GA-DEMO-0004", phone="13000000000")
    yield "demo warning: no student matches, waiting to be resolved by hand"


def _complete(instance_id: int | None, step: str, at: datetime, data: dict[str, Any]) -> None:
    """Complete an open step of a warning's dissuasion as the person it is for, at `at`."""
    timers.fire_due(at)
    row = db.session.scalars(select(TaskRow).where(
        TaskRow.instance_id == instance_id, TaskRow.task_spec == step,
        TaskRow.state == "ready")).first()
    if row is None:
        return
    user = db.session.get(User, row.assignee_id) if row.assignee_id else _first(row.role)
    with clock.pinned(at):
        task_service.complete_task(row.id, data, user, _actor(user, row.role))


def _screening() -> Iterator[str]:
    lead = _first("student_affairs")
    started = clock.now() - timedelta(days=3)
    with clock.pinned(started):
        rnd = screening.start_round(lead, _actor(lead, "student_affairs"))
    yield f"demo screening round {rnd.number}: {rnd.classes} classes, {rnd.students} students"
    classes = db.session.scalars(select(ScreeningClass).where(
        ScreeningClass.round_id == rnd.id).order_by(ScreeningClass.id).limit(3)).all()
    for sc in classes:
        counselor = db.session.get(User, sc.counselor_id)
        rows = [_row(s, flag=i == 0 and sc is classes[0])
                for i, s in enumerate(imports.roster(sc).students)]
        with clock.pinned(started + timedelta(days=1)):
            imports.submit_rows(sc.id, rows, counselor, _actor(counselor, "counselor"))
    yield f"demo screening: {len(classes)} classes screened, one student flagged"


def _row(student: Any, flag: bool) -> dict[str, Any]:
    row = {"student_no": student.student_no, "name": student.name, "status": "talked",
           "note": "已谈话，重点提醒不出租出借银行卡。" if student.key_group else None}
    if flag:
        row.update(status="flagged", category="at_risk", fraud_type="fake_job",
                   note="摸排发现加入网络兼职刷单群，已提醒退出。")
    return row
