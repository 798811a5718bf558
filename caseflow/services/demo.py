"""The demo: a synthetic school in Chinese, cases at different steps, a background worker."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import func, insert, select

from caseflow import clock, demo_data
from caseflow.db import db
from caseflow.models import (
    College,
    CounselorClass,
    Dorm,
    Guardian,
    Klass,
    Student,
    User,
    UserRole,
)
from caseflow.services import setup
from caseflow.services.auth import hash_password

log = logging.getLogger(__name__)


def prepare(waiting: Callable[[], None]) -> Iterator[str]:
    """Create or reuse the demo database, one setup at a time; yield lines to print."""
    with setup.exclusive(waiting):
        yield from setup.prepare_database("demo")
        if db.session.scalar(select(func.count(Student.id))) == 0:
            school = demo_data.build_demo_school(today=clock.now().date())
            load_school(school)
            yield (f"created {len(school.colleges)} colleges, {len(school.classes)} classes, "
                   f"{len(school.students)} students")
            yield from _open_demo_cases()
    yield from _passwords_table()


def load_school(school: demo_data.DemoSchool) -> None:
    """Insert the demo school in bulk (colleges, classes, dorms, students, guardians, users)."""
    colleges = {c.code: College(code=c.code, name=c.name) for c in school.colleges}
    db.session.add_all(colleges.values())
    db.session.flush()
    classes = {k.code: Klass(code=k.code, name=k.name, grade=k.grade,
                             college_id=colleges[k.college_code].id) for k in school.classes}
    dorms = {d.code: Dorm(code=d.code, building=d.building, room=d.room) for d in school.dorms}
    db.session.add_all([*classes.values(), *dorms.values()])
    db.session.flush()
    _insert_students(school, classes, dorms)
    _insert_users(school, colleges, classes)
    db.session.commit()


def _insert_students(school: demo_data.DemoSchool, classes: dict, dorms: dict) -> None:
    rows = [{
        "student_no": s.student_no, "name": s.name, "gender": s.gender,
        "class_id": classes[s.class_code].id, "dorm_id": dorms[s.dorm_code].id,
        "phone": s.phone, "id_card": s.id_card, "birth_date": s.birth_date, "status": s.status,
        "hardship": s.hardship, "academic_difficulty": s.academic_difficulty,
        "psych_watch": s.psych_watch,
    } for s in school.students]
    db.session.execute(insert(Student), rows)
    ids = dict(db.session.execute(select(Student.student_no, Student.id)).all())
    guardians = [{"student_id": ids[s.student_no], "name": g.name, "relation": g.relation,
                  "phone": g.phone} for s in school.students for g in s.guardians]
    db.session.execute(insert(Guardian), guardians)


def demo_password(username: str) -> str:
    """Return the demo password of a user (random per installation, kept in instance/)."""
    path = Path(current_app.instance_path) / "demo_passwords.txt"
    known = dict(line.split("\t", 1) for line in path.read_text().splitlines()
                 if "\t" in line) if path.exists() else {}
    if username not in known:
        known[username] = f"demo-{secrets.token_urlsafe(6)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}\t{v}\n" for k, v in sorted(known.items())))
        path.chmod(0o600)
    return known[username]


def _insert_users(school: demo_data.DemoSchool, colleges: dict, classes: dict) -> None:
    for u in school.users:
        user = User(username=u.username, display_name=u.display_name,
                    password_hash=hash_password(demo_password(u.username)),
                    college_id=colleges[u.college_code].id if u.college_code else None)
        user.roles = [UserRole(role=r) for r in u.roles]
        db.session.add(user)
        db.session.flush()
        for code in u.class_codes:
            db.session.add(CounselorClass(user_id=user.id, class_id=classes[code].id))


def _passwords_table() -> Iterator[str]:
    yield "demo accounts (username / password / roles):"
    for user in db.session.scalars(select(User).order_by(User.id)):
        roles = ",".join(user.role_names)
        yield f"  {user.username:<12} {demo_password(user.username):<18} {roles}"


def _open_demo_cases() -> Iterator[str]:
    from caseflow.services import demo_cases

    yield from demo_cases.open_all()


def start_worker(app: Flask, interval: float = 2.0,
                 stop: threading.Event | None = None) -> threading.Thread:
    """Run `caseflow worker`'s loop in a background thread until `stop` is set (or the
    demo ends)."""
    from caseflow.services import timers

    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with app.app_context():
                try:
                    timers.run_worker(interval, stop=stop)
                except Exception:  # keep the demo's worker alive; the next round retries
                    log.exception("demo worker: firing timers failed")
                    db.session.rollback()
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="caseflow-worker", daemon=True)
    thread.start()
    return thread
