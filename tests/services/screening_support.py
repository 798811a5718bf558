"""Helpers of the screening tests: the organisation with a first-year class, and rounds."""

from __future__ import annotations

from sqlalchemy import select

from caseflow import audit
from caseflow.db import db
from caseflow.models import ScreeningRound, TaskRow
from caseflow.services import screening
from tests import factories


def actor(user):
    return audit.Actor(user.id, user.username, user.role_names[0])


def screening_world():
    """The deployed test organisation plus a first-year class (孙八) and an intern (周九)."""
    ns = factories.deployed_org()
    ns.class4 = factories.Klass(code="K4", name="软件2501班", grade=2025,
                                college_id=ns.college1.id)
    db.session.add(ns.class4)
    db.session.flush()
    ns.fresh = factories.student("2025000101", "孙八", ns.class4, phone=None, id_card=None)
    ns.intern = factories.student("2024000102", "周九", ns.class1, phone=None, id_card=None,
                                  psych_watch=True)
    ns.intern.status = "实习"
    db.session.commit()
    return ns


def start(world, **options) -> ScreeningRound:
    return screening.start_round(world.affairs, actor(world.affairs), **options)


def open_tasks(process_id: str):
    return db.session.scalars(select(TaskRow).where(TaskRow.process_id == process_id,
                                                    TaskRow.state == "ready")
                              .order_by(TaskRow.id)).all()
