"""The student page (重点人员档案): scoped like a case file, read-audited, masked."""

from __future__ import annotations

from sqlalchemy import select

from caseflow.db import db
from caseflow.models import AuditEvent
from tests.conftest import login


def _events(kind: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == kind)))


def test_counselor_of_the_class_sees_the_page_masked_and_audited(client, world):
    login(client, "counselor1")
    page = client.get(f"/students/{world.student1.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert world.student1.name in html and world.case.number in html
    assert world.student1.phone not in html and "138****0000" in html
    assert world.student1.id_card not in html
    [viewed] = _events("student_viewed")
    assert viewed.actor == "counselor1" and f'"student_id":{world.student1.id}' in viewed.detail


def test_counselor_of_another_class_gets_404_and_the_attempt_is_audited(client, world):
    login(client, "counselor2")
    assert client.get(f"/students/{world.student1.id}").status_code == 404
    [denied] = _events("access_denied")
    assert denied.actor == "counselor2" and '"object":"student"' in denied.detail
    assert not _events("student_viewed")


def test_leader_sees_every_student(client, world):
    login(client, "leader")
    html = client.get(f"/students/{world.student3.id}").get_data(as_text=True)
    assert world.student3.name in html


def test_case_file_links_to_the_student_page(client, world):
    login(client, "counselor1")
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert f"/students/{world.student1.id}" in html
