"""The case file: facts, steps, data as the viewer may see it, history, diagram, audit."""

from __future__ import annotations

import re

from sqlalchemy import select

from caseflow.db import db
from caseflow.models import AuditEvent, TaskRow
from tests.conftest import csrf_token, login


def _complete(client, spec: str, data: dict) -> None:
    task = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == spec,
                                                   TaskRow.state == "ready"))
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    answer = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(html), **data})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]


def _walk_to_session(client) -> None:
    """counselor1 talks and refers; psych accepts and records a session with notes."""
    login(client, "counselor1")
    _complete(client, "Talk", {"reached_how": "phone", "talked_at": "2020-01-02T10:30",
                               "note": "学生<b>刷单</b>被骗", "refer": "on",
                               "bank_account": "6222020000001234"})
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(True))})
    login(client, "psych")
    _complete(client, "Accept", {"accept": "accept"})
    _complete(client, "Session", {"notes": "绝密的咨询记录", "risk_assessment": "low"})
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(True))})


def test_leader_sees_facts_steps_history_and_diagram(client, world):
    _walk_to_session(client)
    login(client, "leader")
    page = client.get(f"/cases/{world.case.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert world.case.number in html and "张三" in html
    assert "138****0000" in html and "139****0000" in html  # student and guardian, masked
    assert "13900000000" not in html and "370102200501011233" not in html
    assert "学生&lt;b&gt;刷单&lt;/b&gt;被骗" in html  # step data, escaped
    assert "************1234" in html and "6222020000001234" not in html  # bank account masked
    assert "绝密的咨询记录" not in html and "仅心理健康中心可查看" in html
    assert "<svg" in html and 'data-element-id="Talk"' in html
    assert "处置记录" in html and "环节完成" in html and "查阅案卷" in html
    kinds = [e for e in db.session.scalars(select(AuditEvent.event_type)
                                           .where(AuditEvent.case_id == world.case.id))]
    assert kinds[-1] == "case_viewed"


def test_diagram_marks_done_current_and_taken_path(client, world):
    login(client, "counselor1")
    _complete(client, "Talk", {"reached_how": "phone", "talked_at": "2020-01-02T10:30",
                               "note": "转介", "refer": "on"})
    login(client, "officer1")
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    def state(element: str) -> str:
        found = re.search(rf'<g[^>]*data-element-id="{element}"[^>]*>', svg)
        assert found, element
        return found.group(0)
    assert "completed" in state("Talk")
    assert "current" in state("Accept")
    assert "not_reached" in state("Session")
    assert "completed" in state("StartEvent")  # run by the engine, unrecorded
    assert "taken" in state("R1") and "taken" in state("R3")  # the path taken
    assert "taken" not in state("R4")  # the branch not taken
    assert "接收转介" in html[html.index('<ol class="timeline">'):]  # the gateway's choice


def test_psych_centre_reads_its_own_notes(client, world):
    _walk_to_session(client)
    login(client, "psych")
    html = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert "绝密的咨询记录" in html


def test_history_filters_by_event_type(client, world):
    login(client, "leader")
    html = client.get(f"/cases/{world.case.id}?type=task_opened").get_data(as_text=True)
    timeline = html[html.index('<ol class="timeline">'):]
    assert "环节开始" in timeline and "查阅案卷</strong>" not in timeline


def test_out_of_scope_case_is_404_and_audited(client, world):
    login(client, "counselor3")
    assert client.get(f"/cases/{world.case.id}").status_code == 404
    assert client.get(f"/cases/{world.case.id}/history").status_code == 404
    denied = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "access_denied")).all()
    assert len(denied) == 2 and denied[0].case_id == world.case.id
    assert denied[0].result == "refused"


def test_printable_history(client, world):
    login(client, "leader")
    page = client.get(f"/cases/{world.case.id}/history")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'class="printable"' in html
    assert "处置记录" in html and "打印" in html
    viewed = db.session.scalars(select(AuditEvent.detail).where(
        AuditEvent.event_type == "case_viewed")).all()
    assert '"via":"print"' in viewed[-1]


def test_english_case_file(client, world):
    login(client, "leader")
    html = client.get(f"/cases/{world.case.id}?lang=en").get_data(as_text=True)
    assert "Student and guardians" in html and "Process diagram" in html
    assert "Completed" in html  # the diagram legend, in English


def test_history_shows_a_renamed_person_afresh(client, world):
    from caseflow.models import User

    login(client, "counselor1")
    _complete(client, "Talk", {"reached_how": "phone", "talked_at": "2020-01-02T10:30",
                               "note": "已谈", "refer": "on"})
    login(client, "leader")
    first = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert "counselor1（测试）" in first
    user = db.session.get(User, world.counselor1.id)
    user.display_name = "王老师"
    db.session.commit()
    again = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    timeline = again[again.index('<ol class="timeline">'):]
    assert "王老师" in timeline and "counselor1（测试）" not in timeline
