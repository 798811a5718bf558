"""The organisation: school, colleges, classes, dormitories, students, guardians, users."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import g, has_request_context
from flask_login import UserMixin
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.db import db
from caseflow.models.base import UTCDateTime, utcnow

ROLES = (
    "counselor",
    "college_officer",
    "psych_center",
    "security_office",
    "student_affairs",
    "leader",
    "admin",
)
STUDENT_STATUSES = ("在校", "请假", "实习", "假期离校", "休学", "毕业")


class School(db.Model):
    __tablename__ = "school"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class College(db.Model):
    __tablename__ = "college"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Klass(db.Model):
    __tablename__ = "klass"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    grade: Mapped[int] = mapped_column(Integer)
    college_id: Mapped[int] = mapped_column(ForeignKey("college.id"), index=True)
    college: Mapped[College] = relationship()


class Dorm(db.Model):
    __tablename__ = "dorm"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    building: Mapped[str] = mapped_column(String(50))
    room: Mapped[str] = mapped_column(String(20))


class Student(db.Model):
    __tablename__ = "student"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_no: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    gender: Mapped[str] = mapped_column(String(4))
    class_id: Mapped[int] = mapped_column(ForeignKey("klass.id"), index=True)
    dorm_id: Mapped[int | None] = mapped_column(ForeignKey("dorm.id"))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    id_card: Mapped[str | None] = mapped_column(String(18), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="在校")
    hardship: Mapped[bool] = mapped_column(Boolean, default=False)
    academic_difficulty: Mapped[bool] = mapped_column(Boolean, default=False)
    psych_watch: Mapped[bool] = mapped_column(Boolean, default=False)
    klass: Mapped[Klass] = relationship()
    dorm: Mapped[Dorm | None] = relationship()
    guardians: Mapped[list[Guardian]] = relationship(order_by="Guardian.id")

    def age_on(self, day: date) -> int | None:
        """Return the student's age in whole years on `day`."""
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


class Guardian(db.Model):
    __tablename__ = "guardian"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20))


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    college_id: Mapped[int | None] = mapped_column(ForeignKey("college.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan",
                                                 order_by="UserRole.role")
    classes: Mapped[list[CounselorClass]] = relationship()

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Say whether the account may sign in."""
        return bool(self.active)

    @property
    def role_names(self) -> tuple[str, ...]:
        """Return the user's roles (read once a request)."""
        return _per_request(self, "roles", lambda: tuple(r.role for r in self.roles))

    def has_role(self, *roles: str) -> bool:
        """Say whether the user holds any of `roles`."""
        return any(r in roles for r in self.role_names)

    @property
    def class_ids(self) -> tuple[int, ...]:
        """Return the ids of the classes assigned to this counselor (read once a request)."""
        return _per_request(self, "classes", lambda: tuple(c.class_id for c in self.classes))


def _per_request(user: User, what: str, read: Callable[[], tuple[Any, ...]]) -> tuple[Any, ...]:
    """Read a user's roles or classes once a web request.

    Every commit expires the user, and a page commits several times (session, audit, the
    work itself): without this each access control question reloads them from the
    database. Within one request the answer stays what it was when first asked.
    """
    if user.id is None or not has_request_context():
        return read()
    memo = g.setdefault("_user_scope", {})
    key = (user.id, what)
    if key not in memo:
        memo[key] = read()
    return memo[key]  # type: ignore[no-any-return]


def forget_scope(user_id: int) -> None:
    """Drop a user's roles and classes read in this request (after changing them)."""
    if has_request_context():
        memo = g.get("_user_scope") or {}
        for what in ("roles", "classes"):
            memo.pop((user_id, what), None)


class UserRole(db.Model):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(30), index=True)


class CounselorClass(db.Model):
    __tablename__ = "counselor_class"
    __table_args__ = (UniqueConstraint("user_id", "class_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("klass.id"), index=True)
