"""The task screen: generic form, errors in Chinese next to fields, drafts, conflicts."""

from __future__ import annotations

from sqlalchemy import func, select

from caseflow.db import db
from caseflow.models import AuditEvent, TaskDraft, TaskRow
from tests.conftest import csrf_token, login


def _talk() -> TaskRow:
    return db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))


def _referred_to_psych(client) -> TaskRow:
    """Complete counselor1's talk with a referral, sign in as psych; return the Accept task."""
    login(client, "counselor1")
    task = _talk()
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(html),
                                          "reached_how": "phone", "note": "转介",
                                          "talked_at": "2020-01-02T10:30", "refer": "on"})
    client.post("/logout", data={"csrf_token": csrf_token(html)})
    login(client, "psych")
    return db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Accept"))


def _events(kind: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == kind)))


def test_task_screen_shows_form_summary_and_instructions(client, world):
    login(client, "counselor1")
    page = client.get(f"/tasks/{_talk().id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "与学生面谈" in html  # instructions from the BPMN
    assert 'for="f-note"' in html and 'name="reached_how"' in html
    assert "张三" in html and world.case.number in html  # the case summary
    assert "138****0000" in html and "3701**********1233" in html  # masked
    assert "13800000000" not in html and "370102200501011233" not in html
    assert "保存草稿" in html
    viewed = _events("case_viewed")
    assert viewed and viewed[-1].task_id == _talk().id


def test_errors_are_in_chinese_next_to_the_fields_and_input_is_kept(client, world):
    login(client, "counselor1")
    task = _talk()
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    bad = client.post(f"/tasks/{task.id}", data={
        "csrf_token": csrf_token(html), "note": "学生说兼职刷单<script>x</script>",
        "talked_at": "not a date", "refer": "on", "bank_account": "6222020000001234"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "此项为必填项。" in page  # reached_how missing
    assert "请填写日期和时间。" in page  # talked_at bad
    assert "学生说兼职刷单&lt;script&gt;x&lt;/script&gt;" in page  # kept, escaped
    assert 'value="not a date"' in page and 'value="6222020000001234"' in page
    assert 'aria-invalid="true"' in page and 'href="#f-reached_how"' in page
    assert task.state == "ready"


def test_english_errors_on_request(client, world):
    login(client, "counselor1")
    task = _talk()
    html = client.get(f"/tasks/{task.id}?lang=en").get_data(as_text=True)
    bad = client.post(f"/tasks/{task.id}?lang=en", data={"csrf_token": csrf_token(html)})
    assert "This field is required." in bad.get_data(as_text=True)


def test_completing_goes_to_the_next_task_or_the_inbox(client, world):
    login(client, "counselor1")
    task = _talk()
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    done = client.post(f"/tasks/{task.id}", data={
        "csrf_token": csrf_token(html), "reached_how": "in_person",
        "talked_at": "2020-01-02T10:30", "note": "已谈话", "refer": "on"})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    db.session.expire_all()
    assert _talk().state == "completed"
    completed = _events("task_completed")[-1]
    assert "\"talked_at\":\"2020-01-02T10:30:00+08:00\"" in completed.detail  # Shanghai time
    accept = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Accept"))
    assert accept.role == "psych_center" and accept.state == "ready"


def test_save_draft_keeps_input_and_fills_it_in_later(client, world):
    login(client, "counselor1")
    task = _talk()
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    saved = client.post(f"/tasks/{task.id}", data={
        "csrf_token": csrf_token(html), "action": "draft", "note": "写了一半",
        "reached_how": "phone"})
    assert saved.status_code == 302
    assert db.session.scalar(select(func.count(TaskDraft.id))) == 1
    again = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "写了一半" in again and "草稿" in again
    assert 'value="phone" checked' in again
    event = _events("task_draft_saved")[-1]
    assert "写了一半" not in event.detail  # values stay out of the trail
    assert db.session.get(TaskRow, task.id).state == "ready"


def test_second_completion_says_who_and_keeps_input(client, app, world):
    login(client, "counselor1")
    task = _talk()
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    token = csrf_token(html)
    form = {"csrf_token": token, "reached_how": "video", "talked_at": "2020-01-02T10:30",
            "note": "第一次提交"}
    assert client.post(f"/tasks/{task.id}", data=form).status_code == 302
    second = client.post(f"/tasks/{task.id}", data={**form, "note": "第二个标签页的内容"})
    page = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "该任务已由 counselor1（测试） 于" in page
    assert "第二个标签页的内容" in page and "视频" in page
    assert "<textarea" in page and "readonly" in page
    assert len(_events("task_completed")) == 1


def test_other_counselor_gets_404_and_the_attempt_is_audited(client, world):
    login(client, "counselor2")
    task = _talk()
    assert client.get(f"/tasks/{task.id}").status_code == 404
    denied = _events("access_denied")
    assert denied and '"object":"task"' in denied[-1].detail


def test_claim_and_release_a_queue_task(client, world):
    accept = _referred_to_psych(client)
    inbox = client.get("/").get_data(as_text=True)
    assert "接收转介" in inbox and "认领" in inbox
    token = csrf_token(inbox)
    assert client.post(f"/tasks/{accept.id}/claim", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(TaskRow, accept.id).assignee_id == world.psych.id
    assert client.post(f"/tasks/{accept.id}/release",
                       data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(TaskRow, accept.id).assignee_id is None


def test_psych_centre_accepts_a_referral(client, world):
    accept = _referred_to_psych(client)
    page = client.get(f"/tasks/{accept.id}").get_data(as_text=True)
    bad = client.post(f"/tasks/{accept.id}", data={"csrf_token": csrf_token(page),
                                                   "accept": "decline"})
    assert bad.status_code == 422 and "请填写理由" in bad.get_data(as_text=True)
    ok = client.post(f"/tasks/{accept.id}", data={"csrf_token": csrf_token(page),
                                                  "accept": "accept"})
    assert ok.status_code == 302
    session = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Session"))
    assert ok.headers["Location"] == f"/tasks/{session.id}"  # the next task of the case


def test_confidential_notes_are_marked_on_the_form(client, world):
    accept = _referred_to_psych(client)
    page = client.get(f"/tasks/{accept.id}").get_data(as_text=True)
    client.post(f"/tasks/{accept.id}", data={"csrf_token": csrf_token(page), "accept": "accept"})
    session = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Session"))
    form = client.get(f"/tasks/{session.id}").get_data(as_text=True)
    assert "保密" in form and "field confidential" in form
