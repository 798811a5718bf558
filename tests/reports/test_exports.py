"""Exports: Excel case lists, dashboard tables and a case's history (masked, no confidential
notes, audited with their filter), and audit CSVs an auditor re-verifies with hashlib."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from caseflow import clock
from caseflow.db import db
from caseflow.models import AuditEvent
from tests.conftest import login
from tests.reports.conftest import NOW, at, complete

SECRET = "学生谈到家中债务（保密）"
KEY = "two_weeks:2025-09-15"


@pytest.fixture
def noted(school):
    """Case A with a counseling session whose notes are confidential."""
    complete(school.k["A"], "counseling_session", school.psych, at(2025, 9, 20, 10),
             session_at=at(2025, 9, 20, 9).isoformat(), notes=SECRET, risk_assessment="medium",
             more_sessions=False)
    clock.advance(NOW - clock.now())
    return school


def cells(data: bytes) -> list[list[list]]:
    book = load_workbook(io.BytesIO(data))
    return [[list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets]


def flat(sheets) -> str:
    return "\n".join("\t".join("" if v is None else str(v) for v in row)
                     for sheet in sheets for row in sheet)


def last_export():
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "export_made")
                           .order_by(AuditEvent.seq.desc()))
    return ev, json.loads(ev.detail)


def test_a_leaders_exports_hold_no_confidential_note_and_no_unmasked_number(noted, client):
    login(client, "leader")
    a = noted.k["A"]
    for url in ("/reports/export/cases.xlsx", f"/reports/cases.xlsx?p={KEY}&cat=counted",
                f"/reports/cases/{a.id}/history.xlsx", f"/reports/dashboard.xlsx?p={KEY}"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        text = flat(cells(answer.data))
        assert SECRET not in text, url
        assert "13800000000" not in text and "370102200501011233" not in text, url
        assert "6222000011112222" not in text, url
    history = cells(client.get(f"/reports/cases/{a.id}/history.xlsx").data)[0]
    assert history[0] == ["序号", "时间", "操作人", "角色", "事件", "步骤", "结果", "内容"]
    assert any("2222" in str(row[7]) for row in history)  # the account, masked
    listed = cells(client.get("/reports/export/cases.xlsx?category=victim").data)[0]
    assert listed[0][:3] == ["案件编号", "学生姓名", "学号"]
    row = next(r for r in listed if r[0] == a.number)
    assert (row[17], row[18]) == ("138****0000", "3701**********1233")
    assert len(listed) - 1 == 10  # every victim case in the leader's scope


def test_every_export_is_audited_with_its_filter(noted, client):
    login(client, "leader")
    client.get("/reports/export/cases.xlsx?category=victim&college=1")
    ev, detail = last_export()
    assert ev.actor == "leader" and detail["kind"] == "case_list"
    assert detail["filter"] == {"q": "", "category": "victim", "college_id": 1} or \
        detail["filter"] == {"category": "victim", "college_id": 1}
    assert detail["rows"] == 7  # victims of college 1: A B F H I L M
    client.get(f"/reports/cases.xlsx?p={KEY}&flag=withdrawn")
    _ev, detail = last_export()
    assert detail["kind"] == "figure_cases" and detail["filter"]["flag"] == "withdrawn"
    assert detail["filter"]["period"] == KEY and detail["rows"] == 1
    client.get(f"/reports/cases/{noted.k['A'].id}/history.xlsx")
    ev, detail = last_export()
    assert detail["kind"] == "case_history" and ev.case_id == noted.k["A"].id


def test_dashboard_tables_export(noted, client):
    login(client, "affairs")
    sheets = cells(client.get(f"/reports/dashboard.xlsx?p={KEY}").data)
    colleges = sheets[0]
    assert colleges[0][:4] == ["学院", "发案", "受骗案件", "受骗人数"]
    assert colleges[1][:4] == ["信息工程学院", 7, 6, 5]
    assert colleges[-1][0] == "合计" and colleges[-1][11] == pytest.approx(12984.56)


def test_revealing_needs_the_right_and_a_purpose(noted, client):
    login(client, "counselor1")
    plain = cells(client.get("/reports/export/cases.xlsx").data)[0]
    assert all(r[17] in ("138****0000", "", None) for r in plain[1:])
    shown = cells(client.get("/reports/export/cases.xlsx?purpose=联系家长核实情况").data)[0]
    assert any(r[17] == "13800000000" for r in shown[1:])
    assert all(r[18] != "370102200501011233" for r in shown[1:])  # no ID-card right
    _ev, detail = last_export()
    assert detail["revealed"] == ["phone"] and detail["purpose"] == "联系家长核实情况"


def _verify(rows: list[dict]) -> None:
    """Re-check each row's hash the way audit.row_hash computes it, with plain hashlib."""
    fields = ("prev_hash", "seq", "at", "actor_id", "actor", "actor_role", "ip", "user_agent",
              "case_id", "task_id", "event_type", "result", "detail")
    for row in rows:
        digest = hashlib.sha256("\x1f".join(row[f] for f in fields).encode("utf-8")).hexdigest()
        assert digest == row["hash"], row["seq"]


def _csv(answer) -> list[dict]:
    text = answer.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_audit_csv_of_a_case_verifies_outside_caseflow(noted, client):
    login(client, "leader")
    rows = _csv(client.get(f"/reports/cases/{noted.k['A'].id}/audit.csv"))
    assert rows and {r["case_id"] for r in rows} == {str(noted.k["A"].id)}
    assert list(rows[0])[:2] == ["seq", "at"] and list(rows[0])[-2:] == ["prev_hash", "hash"]
    _verify(rows)
    assert SECRET not in json.dumps(rows, ensure_ascii=False)
    rows[3]["detail"] = rows[3]["detail"].replace("}", ',"x":1}', 1)
    with pytest.raises(AssertionError):
        _verify(rows)


def test_audit_csv_of_a_period_holds_its_events_linked_by_the_chain(noted, client):
    login(client, "affairs")
    rows = _csv(client.get(f"/reports/audit.csv?p={KEY}"))
    _verify(rows)
    # (the fixture registers cases out of time order, so a period's rows are runs of the chain)
    linked = [(a, b) for a, b in zip(rows, rows[1:], strict=False)
              if int(b["seq"]) == int(a["seq"]) + 1]
    assert len(linked) > 20 and all(b["prev_hash"] == a["hash"] for a, b in linked)
    expected = db.session.scalars(select(AuditEvent.seq).where(
        AuditEvent.at >= at(2025, 9, 15), AuditEvent.at < at(2025, 9, 29))
        .order_by(AuditEvent.seq)).all()
    assert [int(r["seq"]) for r in rows] == list(expected)


def test_only_auditors_export_the_audit_trail(noted, client):
    login(client, "officer1")
    assert client.get(f"/reports/cases/{noted.k['A'].id}/audit.csv").status_code == 403
    assert client.get(f"/reports/audit.csv?p={KEY}").status_code == 403
    login(client, "officer2")
    assert client.get(f"/reports/cases/{noted.k['A'].id}/history.xlsx").status_code == 404


def _exports_made() -> int:
    return len(db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "export_made")).all())


def test_an_export_larger_than_one_request_can_write_sends_the_person_back_to_narrow_it(
        noted, client, monkeypatch):
    from caseflow.services import exports

    login(client, "leader")
    listed = client.get("/cases?category=victim").get_data(as_text=True)
    assert "/reports/export/cases.xlsx?category=victim" in listed  # 10 cases: a link
    monkeypatch.setattr(exports, "MAX_ROWS", 1)
    listed = client.get("/cases?category=victim").get_data(as_text=True)
    assert "/reports/export/cases.xlsx" not in listed
    assert "超过 1 个案件：请按学院、类别或期间缩小列表后再导出。" in listed
    for url, back in (("/reports/export/cases.xlsx?category=victim", "/cases?category=victim"),
                      (f"/reports/cases.xlsx?p={KEY}&cat=counted",
                       f"/reports/cases?p={KEY}&cat=counted")):
        answer = client.get(url)
        assert answer.status_code == 303 and answer.headers["Location"] == back
        page = client.get(back).get_data(as_text=True)
        assert "这份导出有" in page and "超过单次导出上限 1 个" in page
    assert _exports_made() == 0  # nothing was exported, so nothing is recorded
    monkeypatch.setattr(exports, "MAX_ROWS", 10)
    assert client.get("/reports/export/cases.xlsx?category=victim").status_code == 200
    assert _exports_made() == 1
