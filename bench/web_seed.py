"""Seed a large school for bench/web.py: real template cases through the services, then
bulk copies of their rows (cases, instances, task and timer rows, findings, audit events
with a valid hash chain) across N students."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Table, func, insert, select, update

from caseflow import audit, clock, idcard, timefmt
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    AuditHead,
    Case,
    College,
    CounselorClass,
    Finding,
    Guardian,
    Klass,
    School,
    Student,
    TaskRow,
    TimerRow,
    User,
    UserRole,
    WorkflowInstance,
)
from caseflow.services import cases, setup
from caseflow.services import tasks as task_service
from caseflow.services.auth import hash_password

PASSWORD = "bench-password-1234"
CHUNK = 5000


@dataclass
class Org:
    """Ids of what the bench measures with."""

    classes: list[tuple[int, int, int]] = field(default_factory=list)  # class, college, counselor
    officers: dict[int, int] = field(default_factory=dict)  # college -> officer
    students: list[int] = field(default_factory=list)


def _bulk(table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])


def _next_id(model: Any) -> int:
    return int(db.session.scalar(select(func.max(model.id))) or 0) + 1


def build_org(n_students: int, colleges: int = 20, per_college: int = 25) -> Org:
    """Create colleges, classes, one counselor per class, officers, staff and students."""
    org, digest = Org(), hash_password(PASSWORD)
    db.session.add(School(name="压测学院"))
    users: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []

    def person(name: str, role: str, college: int | None) -> int:
        uid = len(users) + 1
        users.append({"id": uid, "username": name, "display_name": name, "active": True,
                      "password_hash": digest, "college_id": college,
                      "created_at": clock.now()})
        roles.append({"user_id": uid, "role": role})
        return uid

    class_rows, links = [], []
    for c in range(1, colleges + 1):
        db.session.add(College(id=c, code=f"C{c:02d}", name=f"第{c}学院"))
        org.officers[c] = person(f"officer{c}", "college_officer", c)
        for k in range(per_college):
            kid = (c - 1) * per_college + k + 1
            class_rows.append({"id": kid, "code": f"K{kid:04d}", "name": f"{c}-{k}班",
                               "grade": 2024, "college_id": c})
            counselor = person(f"counselor{kid}", "counselor", c)
            links.append({"user_id": counselor, "class_id": kid})
            org.classes.append((kid, c, counselor))
    for name, role in (("psych", "psych_center"), ("security", "security_office"),
                       ("affairs", "student_affairs"), ("leader", "leader")):
        person(name, role, None)
    db.session.flush()
    _bulk(Klass.__table__, class_rows)
    _bulk(User.__table__, users)
    _bulk(UserRole.__table__, roles)
    _bulk(CounselorClass.__table__, links)
    _students(org, n_students)
    db.session.commit()
    return org


def _id_card(i: int) -> str:
    """Return student i's ID number: born 2005-01-01, female, with its check character."""
    body = f"{370000 + i // 500:06d}20050101{(i % 500) * 2:03d}"
    return body + idcard.check_digit(body)


def _students(org: Org, n: int) -> None:
    rows, guardians = [], []
    for i in range(1, n + 1):
        kid = org.classes[i % len(org.classes)][0]
        rows.append({"id": i, "student_no": f"2024{i:07d}", "name": f"学生{i}", "gender": "女",
                     "class_id": kid, "phone": f"138{i:08d}", "id_card": _id_card(i),
                     "birth_date": date(2005, 1, 1), "status": "在校", "hardship": False,
                     "academic_difficulty": False, "psych_watch": i % 7 == 0})
        guardians.append({"student_id": i, "name": "家长", "relation": "母亲",
                          "phone": f"139{i:08d}"})
    _bulk(Student.__table__, rows)
    _bulk(Guardian.__table__, guardians)
    org.students = [r["id"] for r in rows]


FACTS = [
    {"discovery_source": "counselor_talk", "category": "victim", "fraud_type": "order_brushing",
     "what_happened": "兼职刷单被骗", "loss_cny": "8000", "ongoing": "no"},
    {"discovery_source": "screening", "category": "at_risk", "fraud_type": "fake_job",
     "what_happened": "网上兼职", "ongoing": "unknown"},
    {"discovery_source": "police_notice", "category": "involved", "behaviour": "bank_card",
     "what_happened": "出租银行卡", "ongoing": "no"},
]
TALK = {"reached_how": "in_person", "talked_at": "2020-01-02T10:30:00+08:00",
        "ongoing": "no", "what_happened": "谈话记录", "mood": "worried"}


def real_cases(org: Org) -> list[int]:
    """Register a few cases through the services (one with its talk done); return ids."""
    setup.seed_reference_data()
    files = setup.read_folder(Path(current_app.config["BPMN_DIR"]))
    setup.deploy_sources({k: v for k, v in files.items() if k.startswith("fraud_case")}, "bench")
    ids = []
    for n, facts in enumerate(FACTS + [FACTS[0]]):
        student = db.session.get(Student, org.students[n])
        counselor = next(c for k, _, c in org.classes if k == student.class_id)
        user = db.session.get(User, counselor)
        actor = audit.Actor(user.id, user.username, "counselor")
        case, _ = cases.register(student.id, facts, user, actor)
        ids.append(case.id)
    talk = db.session.scalar(select(TaskRow).where(TaskRow.case_id == ids[-1],
                                                   TaskRow.task_spec == "talk"))
    holder = db.session.get(User, talk.assignee_id)
    task_service.complete_task(talk.id, TALK, holder,
                               audit.Actor(holder.id, holder.username, "counselor"))
    return ids


def _rows(model: Any, **where: Any) -> list[dict[str, Any]]:
    table = model.__table__
    query = select(table)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    return [dict(r._mapping) for r in db.session.execute(query.order_by(table.c.id))]


@dataclass
class Template:
    case: dict[str, Any]
    instance: dict[str, Any]
    tasks: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    events: list[dict[str, Any]]


def template(case_id: int) -> Template:
    """Read every row the app wrote for one case."""
    [instance] = _rows(WorkflowInstance, case_id=case_id)
    return Template(_rows(Case, id=case_id)[0], instance, _rows(TaskRow, case_id=case_id),
                    _rows(TimerRow, instance_id=instance["id"]),
                    _rows(Finding, case_id=case_id), _rows(AuditEvent, case_id=case_id))


class Chain:
    """Append audit rows after the current head, hashing them as audit.record would."""

    def __init__(self) -> None:
        head = db.session.get(AuditHead, 1)
        self.seq, self.prev, self.rows = head.seq, head.hash, []

    def add(self, row: dict[str, Any]) -> None:
        self.seq += 1
        digest = audit.row_hash(self.prev, self.seq, row)
        self.rows.append({**row, "seq": self.seq, "prev_hash": self.prev, "hash": digest})
        self.prev = digest
        if len(self.rows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            db.session.execute(insert(AuditEvent.__table__), self.rows)
            self.rows = []
        db.session.execute(update(AuditHead).where(AuditHead.id == 1)
                           .values(seq=self.seq, hash=self.prev))


def _event(ev: dict[str, Any], case_id: int, task_id: int | None, shift: timedelta
           ) -> dict[str, Any]:
    keep = ("actor_id", "actor", "actor_role", "ip", "user_agent", "event_type", "result",
            "detail")
    return {**{k: ev[k] for k in keep}, "at": ev["at"] + shift, "case_id": case_id,
            "task_id": task_id}


def clone(org: Org, templates: list[Template], n: int, open_every: int = 10) -> list[int]:
    """Copy the template rows across students n..; return the ids of the open copies."""
    ids = {m: _next_id(m) for m in (Case, WorkflowInstance, TaskRow, TimerRow, Finding)}
    out: dict[Any, list[dict[str, Any]]] = {m: [] for m in ids}
    chain, opened, rng, now = Chain(), [], random.Random(4), clock.now()
    by_class = {k: (c, u) for k, c, u in org.classes}
    for student_id in org.students[len(templates):len(templates) + n]:
        t = rng.choice(templates)
        kid = org.classes[student_id % len(org.classes)][0]
        college, counselor = by_class[kid]
        is_open = rng.random() < 1 / open_every
        when = now - timedelta(days=rng.uniform(0 if is_open else 20, 720))
        shift = when - t.case["registered_at"]
        cid, iid = ids[Case], ids[WorkflowInstance]
        ids[Case] += 1
        ids[WorkflowInstance] += 1
        out[Case].append({**t.case, "id": cid, "number": f"AF{timefmt.local(when):%Y}{cid:06d}",
                          "student_id": student_id, "college_id": college, "class_id": kid,
                          "counselor_id": counselor, "registered_by": counselor,
                          "registered_at": when, "state": "open" if is_open else "closed",
                          "closed_at": None if is_open else when + timedelta(days=15)})
        out[WorkflowInstance].append({**t.instance, "id": iid, "case_id": cid,
                                      "status": "running" if is_open else "completed",
                                      "created_at": when, "updated_at": when})
        task_ids = {}
        for row in t.tasks:
            task_ids[row["id"]] = ids[TaskRow]
            ready = is_open and row["state"] == "ready"
            out[TaskRow].append({
                **row, "id": ids[TaskRow], "instance_id": iid, "case_id": cid,
                "college_id": college, "class_id": kid,
                "assignee_id": counselor if row["role"] == "counselor" else row["assignee_id"],
                "state": "ready" if ready else "completed", "created_at": row["created_at"] + shift,
                "due_at": row["due_at"] and row["due_at"] + shift,
                "completed_at": None if ready else (
                    row["completed_at"] + shift if row["completed_at"] else when + timedelta(3)),
                "completed_by": None if ready else (row["completed_by"] or counselor)})
            ids[TaskRow] += 1
        for row in (t.timers if is_open else []):
            out[TimerRow].append({**row, "id": ids[TimerRow], "instance_id": iid,
                                  "due_at": row["due_at"] + shift})
            ids[TimerRow] += 1
        for row in t.findings:
            out[Finding].append({**row, "id": ids[Finding], "case_id": cid,
                                 "created_at": row["created_at"] + shift})
            ids[Finding] += 1
        for ev in t.events:
            chain.add(_event(ev, cid, task_ids.get(ev["task_id"]), shift))
        if is_open:
            opened.append(cid)
    for model in (Case, WorkflowInstance, TaskRow, TimerRow, Finding):
        _bulk(model.__table__, out[model])
    chain.flush()
    db.session.commit()
    return opened


def grow_history(case_id: int, target: int) -> int:
    """Give one case `target` audit events by repeating its own kinds of events."""
    events = _rows(AuditEvent, case_id=case_id)
    chain, shift = Chain(), timedelta(minutes=1)
    n = len(events)
    while n < target:
        ev = events[n % len(events)]
        chain.add(_event(ev, case_id, ev["task_id"], shift * n))
        n += 1
    chain.flush()
    db.session.commit()
    return n

