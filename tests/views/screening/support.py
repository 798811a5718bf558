"""Helpers of the screening screen tests: start a round, make a sheet, upload it."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select

from caseflow import audit, clock, timefmt
from caseflow.db import db
from caseflow.models import (
    Case,
    Finding,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
)
from caseflow.services import screening
from tests.conftest import csrf_token, login


def start(world) -> ScreeningRound:
    user = world.affairs
    return screening.start_round(user, audit.Actor(user.id, user.username, "student_affairs"))


def class_of(world, klass) -> ScreeningClass:
    return db.session.scalar(select(ScreeningClass).where(ScreeningClass.class_id == klass.id)
                             .order_by(ScreeningClass.id.desc()).limit(1))




def later(days: int = 2) -> str:
    return (timefmt.local(clock.now()).date() + timedelta(days=days)).isoformat()


GOOD = [["2024000101", "张三", "标记", "涉诈隐患", "虚假招聘/兼职", "网上兼职刷单"],
        ["2024000102", "学生2", "谈话"],
        ["2024000103", "学生3", "未能联系", None, None, None, "实习在外地，电话未接"],
        ["2024000104", "学生4", "谈话"]]


def good_rows():
    rows = [list(r) for r in GOOD]
    rows[2].append(later())
    return rows


def created():
    return (db.session.scalar(select(func.count(ScreeningEntry.id))),
            db.session.scalar(select(func.count(Case.id))),
            db.session.scalar(select(func.count(Finding.id))))


def switch(client, username: str) -> None:
    """Sign out whoever is signed in, then sign `username` in."""
    html = client.get("/login").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(html)})
    assert login(client, username).status_code == 302


def page(client, path):
    answer = client.get(path)
    return answer, answer.get_data(as_text=True)


def upload(client, sc, data: bytes, name: str = "摸排.xlsx", task_id: int | None = None):
    _, html = page(client, f"/tasks/{task_id or sc.task_id}")
    return client.post(f"/screening/classes/{sc.id}/upload", data={
        "csrf_token": csrf_token(html), "sheet": (io.BytesIO(data), name)},
        content_type="multipart/form-data")
