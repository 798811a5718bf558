"""The two-weekly brief: its figures, its lists, issuing (audited, frozen) and its PDF."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from caseflow import clock
from caseflow.db import db
from caseflow.models import AuditEvent, Case, IssuedBrief
from caseflow.services import NotFound, brief, periods
from tests.conftest import csrf_token, login
from tests.reports.conftest import NOW, at, finding, register

KEY = "two_weeks:2025-09-15"


@pytest.fixture
def period(app):
    return periods.two_weeks(date(2025, 9, 20))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_brief_figures_and_lists_of_a_college(school, period):
    with clock.pinned(NOW):
        b = brief.gather(school.officer1, school.college1.id, period)
    figures = brief.key_figures(b)
    assert (figures["cases"], figures["victim_cases"], figures["victim_persons"],
            figures["involved_cases"], figures["at_risk"], figures["loss"],
            figures["recovered"], figures["open"], figures["closed"], figures["downgraded"]) \
        == (7, 6, 5, 1, 0, "12584.56", "200.00", 6, 1, 1)
    assert (figures["stop_payment_median_s"], figures["stop_payment_worst_s"]) == (3300.0,
                                                                                   5400.0)
    k = school.k
    assert sorted(figures["new"]) == sorted(k[x].number for x in "ABDHILM")
    assert figures["late"] == [k["F"].number]  # no earlier brief: since the period began
    assert b.late_since == period.start
    assert all("*" in c.student for c in b.new_cases)  # names masked
    numbers = {t.number for t in b.overdue_now}
    assert k["M"].number in numbers and k["C"].number not in numbers  # C is another college
    assert b.school == "示范职业技术学院" and b.college.name == "信息工程学院"


def test_only_the_colleges_people_and_school_wide_readers_see_its_brief(school, period):
    with clock.pinned(NOW):
        with pytest.raises(NotFound):
            brief.gather(school.officer2, school.college1.id, period)
        with pytest.raises(NotFound):
            brief.gather(school.counselor1, school.college1.id, period)
        assert brief.gather(school.leader, school.college1.id, period).board.cases.total.cases \
            == 7
    assert brief.may_issue(school.officer1, school.college1.id)
    assert not brief.may_issue(school.leader, school.college1.id)


def test_issuing_is_audited_and_the_issued_version_never_changes(school, client):
    clock.advance(NOW - clock.now())
    login(client, "officer1")
    url = f"/reports/brief/{school.college1.id}?p={KEY}"
    page = client.get(url).get_data(as_text=True)
    answer = client.post(url, data={"csrf_token": csrf_token(page), "action": "issue",
                                    "text": "本期开展主题班会12场。<b>粗体</b>"})
    assert answer.status_code == 302
    row = db.session.scalar(select(IssuedBrief))
    assert (row.version, row.period_key, row.college_id) == (1, KEY, school.college1.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "brief_issued"))
    detail = json.loads(event.detail)
    assert detail["pdf_sha256"] == row.pdf_sha256 and detail["version"] == 1
    assert event.actor == "officer1"
    text = pdf_text(row.pdf)
    for expected in ("示范职业技术学院", "信息工程学院", "2025年9月15日—9月28日",
                     "防范电信网络诈骗专项简报",
                     "7 起", "6 起，5 人", "¥12,584.56", "¥200.00", "本期开展主题班会12场",
                     school.k["F"].number, school.k["A"].number, "签发时间"):
        assert expected in text, expected
    assert "13800000000" not in text and "370102" not in text
    issued_html = client.get(f"/reports/briefs/{row.id}").get_data(as_text=True)
    assert "&lt;b&gt;粗体&lt;/b&gt;" in issued_html  # the officer's text is escaped
    # a case registered afterwards changes today's figures, not the issued brief
    with clock.pinned(at(2025, 10, 2, 11)):
        register(school.s[13], school.counselor3, at(2025, 10, 2, 11),
                 finding("victim", at(2025, 9, 20, 9), "9999.00"))
    later = client.get(f"/reports/briefs/{row.id}").get_data(as_text=True)
    assert row.html in issued_html and row.html in later and "9,999.00" not in later
    pdf = client.get(f"/reports/briefs/{row.id}.pdf")
    assert pdf.data == row.pdf
    exported = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == "export_made").order_by(AuditEvent.seq.desc()))
    assert json.loads(exported.detail)["kind"] == "brief_pdf"


def test_the_next_brief_lists_cases_registered_since_the_last_one(school, client):
    clock.advance(NOW - clock.now())
    login(client, "officer1")
    url = f"/reports/brief/{school.college1.id}?p={KEY}"
    page = client.get(url).get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf_token(page), "action": "issue", "text": ""})
    late = register(school.s[10], school.counselor1, at(2025, 10, 2, 12),
                    finding("victim", at(2025, 9, 16, 9), "10.00"))
    with clock.pinned(at(2025, 10, 2, 13)):
        b = brief.gather(school.officer1, school.college1.id,
                         periods.two_weeks(date(2025, 9, 30)))
    assert [c.number for c in b.late_cases] == [late.number]
    assert db.session.get(Case, late.id).loss_cny == Decimal("10.00")


def test_a_second_issue_is_a_new_version_and_the_first_stays(school, client):
    clock.advance(NOW - clock.now())
    login(client, "officer1")
    url = f"/reports/brief/{school.college1.id}?p={KEY}"
    for text in ("第一版", "第二版"):
        page = client.get(url).get_data(as_text=True)
        client.post(url, data={"csrf_token": csrf_token(page), "action": "issue", "text": text})
    first, second = db.session.scalars(select(IssuedBrief).order_by(IssuedBrief.version))
    assert (first.version, first.text, second.version, second.text) == (1, "第一版", 2, "第二版")
    assert "第一版" in pdf_text(first.pdf) and "第二版" in pdf_text(second.pdf)


def test_a_leader_cannot_issue_and_another_officer_cannot_see(school, client):
    clock.advance(NOW - clock.now())
    login(client, "leader")
    url = f"/reports/brief/{school.college1.id}?p={KEY}"
    page = client.get(url)
    assert page.status_code == 200 and ('id="brief-text"') not in page.get_data(as_text=True)
    answer = client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                    "action": "issue", "text": "x"})
    assert answer.status_code == 403 and db.session.scalar(select(IssuedBrief)) is None
    login(client, "officer2")
    assert client.get(url).status_code == 404
