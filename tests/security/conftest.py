"""A world for the security tests: two cases, tasks of every role, notifications.

Case A (student1, class1, counselor1's) was talked about and referred to the psych centre,
is flagged for the police and holds a security-office, a college-officer and a
student-affairs step; case B (student2, class2, counselor2's) was not referred and has no
flags. So for each role there is an object in scope and one out of scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

import workflows
from caseflow import clock
from caseflow.db import db
from caseflow.models import AuditEvent, Notification, PoliceWarning, TaskRow, User
from caseflow.services import tasks as task_service
from tests.conftest import csrf_token, login
from tests.views import support

BANK = "6222020000009876"
NOTE = "学生自述：非常机密的咨询内容XYZ"


@pytest.fixture
def referral() -> Iterator[str]:
    """Register the referral test process's lanes and forms for one test."""
    workflows.register(support.PROCESS, support.Referral)
    yield support.PROCESS
    workflows.unregister(support.PROCESS)


def _ready(case_id: int, spec: str) -> TaskRow:
    return db.session.scalar(select(TaskRow).where(TaskRow.case_id == case_id,
                                                   TaskRow.task_spec == spec,
                                                   TaskRow.state == "ready"))


def _extra_task(like: TaskRow, role: str, spec: str) -> TaskRow:
    """Add an open task row of `role` to the case of `like` (a screen without a form)."""
    row = TaskRow(instance_id=like.instance_id, spiff_task_id=f"test-{spec}",
                  case_id=like.case_id, process_version_id=like.process_version_id,
                  process_id=like.process_id, task_spec=spec, name=f"测试步骤 {spec}",
                  lane=None, role=role, college_id=like.college_id, class_id=like.class_id,
                  state="ready", created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def w(app, referral) -> SimpleNamespace:
    """The security world (see the module docstring)."""
    people = support.world()
    people.a = support.open_case(people.student1, counselor_id=people.counselor1.id)
    people.b = support.open_case(people.student2, counselor_id=people.counselor2.id)
    talk = _ready(people.a.id, "Talk")
    task_service.complete_task(talk.id, {
        "reached_how": "phone", "talked_at": "2024-03-01T10:00:00+08:00",
        "note": "第一次谈话", "bank_account": BANK, "refer": True},
        people.counselor1, support.ACTOR)
    people.talk_done = talk
    people.accept = _ready(people.a.id, "Accept")
    people.talk_b = _ready(people.b.id, "Talk")
    people.a.flags = '{"need_police": true}'
    people.security_task = _extra_task(people.accept, "security_office", "SecurityStep")
    people.officer_task = _extra_task(people.accept, "college_officer", "OfficerStep")
    people.affairs_task = _extra_task(people.accept, "student_affairs", "AffairsStep")
    people.counselor_task = _extra_task(people.accept, "counselor", "CounselorStep")
    people.warning = PoliceWarning(number="YJ-TEST-1", source="screen", name="查无此人",
                                   warned_at=clock.now(), fraud_type="other", state="unmatched",
                                   created_at=clock.now())
    db.session.add(people.warning)
    people.notices = {}
    for user in db.session.scalars(select(User)):
        notice = Notification(user_id=user.id, role=(user.role_names or ("admin",))[0],
                              case_id=people.a.id, kind="test", text="测试通知",
                              created_at=clock.now())
        db.session.add(notice)
        db.session.flush()
        people.notices[user.username] = notice.id
    db.session.commit()
    return people


def signin(client: FlaskClient, username: str | None) -> None:
    """Sign `username` in (None: stay anonymous), checking that it worked."""
    if username is None:
        return
    answer = login(client, username)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]


def token(client: FlaskClient) -> str:
    """Return the CSRF token of the client's session."""
    return csrf_token(client.get("/login").get_data(as_text=True))


def events(kind: str) -> list[AuditEvent]:
    """Return the audit events of one type, oldest first."""
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == kind)
                                   .order_by(AuditEvent.seq)))
