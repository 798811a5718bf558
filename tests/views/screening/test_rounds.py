"""The screening screens: starting rounds, a round's progress, who sees what, languages."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from caseflow import audit
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    ScreeningRound,
    TaskRow,
)
from caseflow.services import screening
from tests.conftest import csrf_token
from tests.factories import screening_sheet as xlsx
from tests.views.screening.support import (
    class_of,
    good_rows,
    later,
    page,
    start,
    switch,
    upload,
)


def test_the_lead_office_starts_a_round_on_screen_and_counselors_get_tasks(world, client):
    switch(client, "affairs")
    answer, html = page(client, "/screening")
    assert answer.status_code == 200 and "开始摸排" in html
    answer = client.post("/screening/start", data={
        "csrf_token": csrf_token(html), "cohort": "all", "college": "C01", "due_days": "5"})
    assert answer.status_code == 302
    rnd = db.session.scalar(select(ScreeningRound))
    assert (rnd.classes, rnd.students, rnd.college_id) == (2, 5, world.college1.id)
    assert rnd.due_at == rnd.started_at + timedelta(days=5)
    tasks = db.session.scalars(select(TaskRow).where(TaskRow.task_spec == "screen_class")).all()
    assert {t.assignee_id for t in tasks} == {world.counselor1.id, world.counselor2.id}
    switch(client, "counselor1")
    _, inbox = page(client, "/")
    # which round, which class (in the table's cells, not the class filter)
    assert f'<td data-label="案件">{rnd.number}</td>' in inbox
    assert '<td data-label="学生">软件2401班</td>' in inbox
    switch(client, "affairs")
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == "screening_round_started")) == 1
    _, html = page(client, answer.headers["Location"])
    assert rnd.number in html and "软件2401班" in html and "已覆盖学生：0 / 5" in html
    _, html = page(client, "/screening")
    assert rnd.number in html and "0 / 2" in html


def test_a_bad_start_is_refused_with_a_message_and_others_cannot_start(world, client):
    switch(client, "affairs")
    _, html = page(client, "/screening")
    answer = client.post("/screening/start", data={
        "csrf_token": csrf_token(html), "cohort": "interns"})
    assert answer.status_code == 422 and "范围内没有学生" in answer.get_data(as_text=True)
    answer = client.post("/screening/start", data={
        "csrf_token": csrf_token(html), "due_days": "abc"})
    assert answer.status_code == 422
    assert db.session.scalar(select(func.count(ScreeningRound.id))) == 0
    switch(client, "officer1")
    answer, html = page(client, "/screening")
    assert answer.status_code == 200 and "开始摸排" not in html
    answer = client.post("/screening/start", data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 404
    assert db.session.scalar(select(func.count(ScreeningRound.id))) == 0


def test_the_rounds_list_comes_before_the_start_form(world, client):
    rnd = start(world)
    switch(client, "affairs")
    _, html = page(client, "/screening")
    listed, form = html.index(f">{rnd.number}</a>"), html.index('action="/screening/start"')
    assert html.index("摸排轮次（最新在前）") < listed < form
    answer = client.post("/screening/start", data={
        "csrf_token": csrf_token(html), "cohort": "all", "college": "C01", "due_days": "120"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    # the message sits above the list and next to its field; the form keeps what was typed
    summary, listed = html.index('id="error-summary"'), html.index(f">{rnd.number}</a>")
    assert summary < listed < html.index('action="/screening/start"')
    assert '<p class="msg" id="start-due_days-msg">请填写 1 到 90 之间的天数。</p>' in html
    assert 'value="120" aria-describedby="start-due-help start-due_days-msg" ' \
           'aria-invalid="true"' in html
    assert '<option value="C01" selected>' in html


def test_late_classes_and_students_not_reached_show_after_the_due_date(world, client, travel):
    rnd = start(world)
    switch(client, "counselor1")
    assert upload(client, class_of(world, world.class1), xlsx(good_rows())).status_code == 302
    travel.by(days=8)
    switch(client, "affairs")
    _, html = page(client, f"/screening/{rnd.id}")
    late = html.split('id="late"')[1].split("</ul>")[0]
    assert "网络2401班" in late and "会计2401班" in late and "软件2401班" not in late
    assert "逾期" in late
    unreached = html.split('id="unreached"')[1]
    assert "2024000103" in unreached and "实习在外地，电话未接" in unreached
    assert later(-6) in unreached  # the follow-up date (two days after the start)


def test_a_college_officer_sees_only_their_college(world, client):
    rnd = start(world)
    switch(client, "officer2")
    answer, html = page(client, f"/screening/{rnd.id}")
    assert answer.status_code == 200
    assert "会计2401班" in html and "软件2401班" not in html
    _, html = page(client, "/screening")
    assert "0 / 1" in html  # one class of the college
    switch(client, "counselor1")
    assert client.get(f"/screening/{rnd.id}").status_code == 404
    assert client.get("/screening").status_code == 404
    assert client.get("/screening/99999").status_code == 404


def test_a_round_without_the_officers_college_is_404_and_the_refusal_audited(world, client):
    user = world.affairs
    rnd = screening.start_round(user, audit.Actor(user.id, user.username, "student_affairs"),
                                college_code="C01")
    switch(client, "officer1")
    answer, html = page(client, f"/screening/{rnd.id}")
    assert answer.status_code == 200 and "软件2401班" in html
    switch(client, "officer2")
    answer, html = page(client, f"/screening/{rnd.id}")
    assert answer.status_code == 404
    assert rnd.number not in html and "软件2401班" not in html
    refused = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "access_denied", AuditEvent.actor_id == world.officer2.id)
    ).all()
    assert [json.loads(e.detail) for e in refused] == [
        {"object": "screening_round", "id": rnd.id}]


def test_the_review_task_shows_the_colleges_progress(world, client):
    start(world)
    review = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "round_review",
                                                     TaskRow.college_id == world.college1.id))
    switch(client, "counselor1")
    upload(client, class_of(world, world.class1), xlsx(good_rows()))
    switch(client, "officer1")
    answer, html = page(client, f"/tasks/{review.id}")
    assert answer.status_code == 200
    assert "已完成班级：1 / 2" in html and "标记：1" in html and "网络2401班" in html
    assert "会计2401班" not in html


def test_pages_are_chinese_by_default_and_english_on_request(world, client):
    rnd = start(world)
    switch(client, "affairs")
    _, html = page(client, "/")
    assert "隐患摸排" in html
    _, html = page(client, f"/screening/{rnd.id}?lang=en")
    assert "Late classes" in html and "Students not reached" in html
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    _, html = page(client, f"/tasks/{sc.task_id}?lang=en")
    assert "Download the template (.xlsx)" in html and "Not reached" in html


def test_the_screens_are_well_formed_and_escape_user_text(world, client):
    from tests.views.test_html_quality import XSS, check

    world.more[1].name = XSS  # 2024000103, not reached in the good sheet
    db.session.commit()
    rnd = start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    rows = good_rows()
    rows[2][1] = XSS
    shown = [client.get(f"/tasks/{sc.task_id}"),
             upload(client, sc, xlsx([*rows, ["2024000104", "学生4", "谈话"]]))]
    assert shown[1].status_code == 422
    assert upload(client, sc, xlsx(rows)).status_code == 302
    review = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "round_review",
                                                     TaskRow.college_id == world.college1.id))
    switch(client, "officer1")
    shown.append(client.get(f"/tasks/{review.id}"))
    switch(client, "affairs")
    shown += [client.get("/screening"), client.get(f"/screening/{rnd.id}?lang=en")]
    for answer in shown:
        text = answer.get_data(as_text=True)
        check(text)
        assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;" in shown[-1].get_data(as_text=True)  # the unreached student
