"""Build a small organisation for tests: one school, two colleges, classes, people."""

from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace
from typing import Any

from openpyxl import Workbook

from caseflow import idcard
from caseflow.db import db
from caseflow.models import (
    College,
    CounselorClass,
    Guardian,
    Klass,
    School,
    Student,
    User,
    UserRole,
)
from caseflow.services.auth import hash_password
from workflows.class_screening import COLUMNS

PASSWORD = "correct-horse-battery"
PASSWORD_HASH = hash_password(PASSWORD)  # scrypt is slow on purpose: hash once per run


def user(username: str, *roles: str, college: College | None = None,
         classes: tuple[Klass, ...] = ()) -> User:
    """Create a user with roles and scope."""
    row = User(username=username, display_name=f"{username}（测试）",
               password_hash=PASSWORD_HASH, college_id=college.id if college else None)
    row.roles = [UserRole(role=r) for r in roles]
    db.session.add(row)
    db.session.flush()
    for klass in classes:
        db.session.add(CounselorClass(user_id=row.id, class_id=klass.id))
    db.session.flush()
    return row


def student(number: str, name: str, klass: Klass, **extra: object) -> Student:
    """Create a student with one guardian."""
    row = Student(student_no=number, name=name, gender="女", class_id=klass.id,
                  phone=extra.pop("phone", "13800000000"),
                  id_card=extra.pop("id_card", "370102200501011233"),
                  birth_date=extra.pop("birth_date", date(2005, 1, 1)), status="在校", **extra)
    db.session.add(row)
    db.session.flush()
    db.session.add(Guardian(student_id=row.id, name="家长", relation="母亲", phone="13900000000"))
    return row


def org() -> SimpleNamespace:
    """Create the organisation most tests use, and return its pieces by name."""
    db.session.add(School(name="测试学院"))
    c1, c2 = College(code="C01", name="信息工程学院"), College(code="C02", name="经济管理学院")
    db.session.add_all([c1, c2])
    db.session.flush()
    k1 = Klass(code="K1", name="软件2401班", grade=2024, college_id=c1.id)
    k2 = Klass(code="K2", name="网络2401班", grade=2024, college_id=c1.id)
    k3 = Klass(code="K3", name="会计2401班", grade=2024, college_id=c2.id)
    db.session.add_all([k1, k2, k3])
    db.session.flush()
    ns = SimpleNamespace(college1=c1, college2=c2, class1=k1, class2=k2, class3=k3)
    ns.counselor1 = user("counselor1", "counselor", college=c1, classes=(k1,))
    ns.counselor2 = user("counselor2", "counselor", college=c1, classes=(k2,))
    ns.counselor3 = user("counselor3", "counselor", college=c2, classes=(k3,))
    ns.officer1 = user("officer1", "college_officer", college=c1)
    ns.officer2 = user("officer2", "college_officer", college=c2)
    ns.psych = user("psych", "psych_center")
    ns.security = user("security", "security_office")
    ns.affairs = user("affairs", "student_affairs")
    ns.leader = user("leader", "leader")
    ns.admin = user("admin", "admin")
    ns.student1 = student("2024000101", "张三", k1)
    ns.student2 = student("2024000201", "李四", k2)
    ns.student3 = student("2024000301", "王五", k3)
    db.session.commit()
    return ns


def classmates(klass: Klass, numbers: range) -> list[Student]:
    """Create students 20240001NN named 学生NN in `klass`, with no phone or ID number."""
    return [student(f"20240001{n:02d}", f"学生{n}", klass, phone=None, id_card=None)
            for n in numbers]


def deployed_org() -> SimpleNamespace:
    """Seed the lists, deploy bpmn/ and create the test organisation."""
    from caseflow.services import setup

    setup.seed_reference_data()
    setup.deploy_processes(by="test")
    return org()


def warning_org() -> SimpleNamespace:
    """The deployed organisation with phones and ID cards, and a namesake of 张三 elsewhere.

    What police warnings are matched against: exact numbers, or a name with candidates.
    """
    ns = deployed_org()
    for n, person in enumerate((ns.student1, ns.student2, ns.student3)):
        body = f"3701022005010112{n}"  # ID numbers with their check character, as issued
        person.phone, person.id_card = f"1380000000{n}", body + idcard.check_digit(body)
    ns.namesake = student("2024000202", "张三", ns.class2, phone="13900000009", id_card=None)
    return ns


def actor(user: User) -> Any:
    """Return the audit actor for a user acting in their first role."""
    from caseflow.audit import Actor

    return Actor(user.id, user.username, user.role_names[0])


def screening_sheet(rows: list[list[Any]], header: tuple[str, ...] = COLUMNS) -> bytes:
    """Return a class's screening sheet (.xlsx) with `header` and `rows`, as filled in."""
    book = Workbook()
    book.active.append(list(header))
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

