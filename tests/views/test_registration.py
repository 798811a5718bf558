"""New case: find a student in scope, register with the fraud_case form, attach when open."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from caseflow.db import db
from caseflow.models import AuditEvent, Case, Finding
from caseflow.services import setup
from tests import factories
from tests.conftest import csrf_token, login, page_form


@pytest.fixture
def school(app):
    people = factories.org()
    setup.seed_reference_data()
    files = setup.read_folder(Path(app.config["BPMN_DIR"]))
    setup.deploy_sources({k: v for k, v in files.items() if k.startswith("fraud_case")}, "test")
    return people


FORM = {"discovery_source": "counselor_talk", "category": "victim",
        "fraud_type": "order_brushing", "what_happened": "兼职刷单被骗", "loss_cny": "8000",
        "ongoing": "no"}


def test_search_is_scoped(client, school):
    login(client, "counselor1")
    html = client.get("/cases/new?q=2024").get_data(as_text=True)
    assert "张三" in html and "李四" not in html and "王五" not in html
    assert "张三" in client.get("/cases/new?q=张").get_data(as_text=True)
    assert client.get(f"/cases/new/{school.student2.id}").status_code == 404


def test_register_with_an_error_then_open_then_attach(client, school):
    login(client, "counselor1")
    page = client.get(f"/cases/new/{school.student1.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="what_happened"' in html
    assert 'name="student_id"' not in html and "刷单返利" in html  # lookups as options
    bad = client.post(f"/cases/new/{school.student1.id}", data={
        "csrf_token": csrf_token(html), **FORM, "category": "at_risk"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "有损失的学生应登记为受骗" in text
    assert "兼职刷单被骗" in text  # kept
    ok = client.post(f"/cases/new/{school.student1.id}",
                     data={"csrf_token": csrf_token(html), **FORM})
    case = db.session.scalar(select(Case))
    assert ok.status_code == 302 and ok.headers["Location"] == f"/cases/{case.id}"
    assert "已建立案件" in client.get(ok.headers["Location"]).get_data(as_text=True)
    again = client.get(f"/cases/new/{school.student1.id}").get_data(as_text=True)
    assert "已有在办案件" in again and case.number in again
    attached = client.post(f"/cases/new/{school.student1.id}",
                           data={"csrf_token": csrf_token(again), **FORM, "loss_cny": "100"})
    assert attached.status_code == 302
    assert "已追加到案件" in client.get(attached.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(func.count(Case.id))) == 1
    assert db.session.scalar(select(func.count(Finding.id))) == 2


def test_admin_may_not_register(client, school):
    login(client, "admin")
    assert client.get("/cases/new").status_code == 403


def _form(client, student_id: int, **data) -> dict[str, str]:
    """Return the registration form as the page gives it: CSRF and one-time tokens."""
    return page_form(client, f"/cases/new/{student_id}", **{**FORM, **data})


def _events(kind: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == kind))


def test_a_retried_registration_registers_once(client, school):
    login(client, "counselor1")
    url = f"/cases/new/{school.student1.id}"
    form = _form(client, school.student1.id)
    first = client.post(url, data=form)
    again = client.post(url, data=form)  # the answer to the first was lost
    [case] = db.session.scalars(select(Case)).all()
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"] == f"/cases/{case.id}"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert f"该表单已提交过：当时登记的情况已记入案件 {case.number}，未重复登记" in page
    assert db.session.scalar(select(func.count(Finding.id))) == 1
    assert (_events("case_opened"), _events("finding_attached")) == (1, 0)
    # a fresh form adds a finding, and its retry does not add it twice
    form = _form(client, school.student1.id, loss_cny="100")
    assert client.post(url, data=form).status_code == 302
    assert client.post(url, data=form).headers["Location"] == f"/cases/{case.id}"
    assert db.session.scalar(select(func.count(Finding.id))) == 2
    assert (_events("case_opened"), _events("finding_attached")) == (1, 1)


def test_a_registration_token_for_another_student_registers_nothing(client, school):
    login(client, "counselor1")
    form = _form(client, school.student1.id)
    assert client.post(f"/cases/new/{school.student1.id}", data=form).status_code == 302
    other = factories.student("2024000199", "赵六", school.class1)
    db.session.commit()
    refused = client.post(f"/cases/new/{other.id}", data=form)
    assert refused.status_code == 409
    assert "该表单已使用过：请刷新页面后重新登记情况" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Case.id))) == 1
