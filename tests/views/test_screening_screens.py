"""The screening screens: rounds, a round's progress, a class's sheet or form, the review."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from caseflow import audit, clock, timefmt
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Case,
    Finding,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
    TaskRow,
)
from caseflow.services import screening, setup
from tests import factories
from tests.conftest import csrf_token, login
from workflows.class_screening import COLUMNS


@pytest.fixture
def world(app):
    setup.seed_reference_data()
    setup.deploy_processes(by="test")
    ns = factories.org()
    ns.more = [factories.student(f"20240001{n:02d}", f"学生{n}", ns.class1, phone=None,
                                 id_card=None) for n in range(2, 5)]
    db.session.commit()
    return ns


def start(world) -> ScreeningRound:
    user = world.affairs
    return screening.start_round(user, audit.Actor(user.id, user.username, "student_affairs"))


def class_of(world, klass) -> ScreeningClass:
    return db.session.scalar(select(ScreeningClass).where(ScreeningClass.class_id == klass.id)
                             .order_by(ScreeningClass.id.desc()).limit(1))


def xlsx(rows) -> bytes:
    book = Workbook()
    book.active.append(list(COLUMNS))
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def later(days: int = 2) -> str:
    return (timefmt.local(clock.now()).date() + timedelta(days=days)).isoformat()


GOOD = [["2024000101", "张三", "标记", "涉诈隐患", "虚假招聘/兼职", "网上兼职刷单"],
        ["2024000102", "学生2", "谈话"],
        ["2024000103", "学生3", "未能联系", None, None, None, "实习在外地，电话未接"],
        ["2024000104", "学生4", "谈话"]]


def good_rows():
    rows = [list(r) for r in GOOD]
    rows[2].append(later())
    return rows


def created():
    return (db.session.scalar(select(func.count(ScreeningEntry.id))),
            db.session.scalar(select(func.count(Case.id))),
            db.session.scalar(select(func.count(Finding.id))))


def switch(client, username: str) -> None:
    """Sign out whoever is signed in, then sign `username` in."""
    html = client.get("/login").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(html)})
    assert login(client, username).status_code == 302


def page(client, path):
    answer = client.get(path)
    return answer, answer.get_data(as_text=True)


def upload(client, sc, data: bytes, name: str = "摸排.xlsx", task_id: int | None = None):
    _, html = page(client, f"/tasks/{task_id or sc.task_id}")
    return client.post(f"/screening/classes/{sc.id}/upload", data={
        "csrf_token": csrf_token(html), "sheet": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


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


def test_the_counselor_downloads_the_template_and_another_counselor_gets_404(world, client):
    start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    answer, html = page(client, f"/tasks/{sc.task_id}")
    assert answer.status_code == 200
    assert f"/screening/classes/{sc.id}/template.xlsx" in html and "学生3" in html
    answer = client.get(f"/screening/classes/{sc.id}/template.xlsx")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(answer.data))["摸排"].iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert [r[:2] for r in rows[1:]] == [("2024000101", "张三")] + [
        (f"20240001{n:02d}", f"学生{n}") for n in range(2, 5)]
    answer = client.get(f"/screening/classes/{sc.id}/template.csv")
    assert answer.data.startswith(b"\xef\xbb\xbf") and "学号".encode() in answer.data
    assert client.get(f"/screening/classes/{sc.id}/template.pdf").status_code == 404
    switch(client, "counselor2")
    assert client.get(f"/screening/classes/{sc.id}/template.xlsx").status_code == 404
    assert client.get(f"/tasks/{sc.task_id}").status_code == 404
    denied = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "access_denied")).all()
    assert any(e.detail and "screening_class" in str(e.detail) for e in denied)


def test_a_good_sheet_is_taken_in_and_the_same_sheet_again_creates_nothing(world, client):
    start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    data = xlsx(good_rows())
    answer = upload(client, sc, data)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/")
    _, html = page(client, "/")
    assert "谈话 2 人，标记 1 人，未能联系 1 人" in html and "新开个案：1" in html
    assert created() == (4, 1, 1)
    db.session.expire_all()
    sc = db.session.get(ScreeningClass, sc.id)
    case = db.session.scalar(select(Case))
    assert (case.student_id, case.source, case.category) == (
        world.student1.id, "screening", "at_risk")
    assert (sc.state, db.session.get(TaskRow, sc.task_id).state) == ("done", "completed")
    answer = upload(client, sc, data)
    assert answer.status_code == 302
    _, html = page(client, "/")
    assert "已于" in html and "不会重复创建" in html
    assert created() == (4, 1, 1)


def test_a_bad_sheet_lists_every_bad_row_and_changes_nothing(world, client):
    start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    rows = [["9999999999", "无名", "谈话"],                             # 2 unknown
            ["2024000201", "李四", "谈话"],                             # 3 other class
            ["2024000101", "张三", "标记", "受害", None, "说明"],       # 4 unknown category
            ["2024000102", "学生2", "谈话"],
            ["2024000102", "学生2", "谈话"],                            # 6 duplicate
            ["2024000103", "学生3", "谈话"], ["2024000104", "学生4", "谈话"]]
    before = created()
    answer = upload(client, sc, xlsx(rows))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "未导入任何内容" in html
    for row, column, text in [(2, "学号", "9999999999"), (3, "学号", "K2"), (4, "类别", "受害"),
                              (6, "学号", "第 5 行")]:
        assert f'<td data-label="行" class="num">{row}</td><td data-label="列">{column}</td>' \
            in html, (row, column)
        assert text in html
    assert created() == before
    db.session.expire_all()
    assert db.session.get(ScreeningClass, sc.id).state == "open"
    assert db.session.get(TaskRow, sc.task_id).state == "ready"


def test_a_file_over_the_limit_gets_the_413_page(world, client, app):
    start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    _, html = page(client, f"/tasks/{sc.task_id}")
    app.config["MAX_CONTENT_LENGTH"] = 3000
    answer = client.post(f"/screening/classes/{sc.id}/upload", data={
        "csrf_token": csrf_token(html), "sheet": (io.BytesIO(b"x" * 5000), "big.csv")},
        content_type="multipart/form-data")
    assert answer.status_code == 413 and "本次未保存任何内容" in answer.get_data(as_text=True)
    assert created() == (0, 0, 0)


def test_no_file_chosen_is_a_clear_message(world, client):
    start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    _, html = page(client, f"/tasks/{sc.task_id}")
    answer = client.post(f"/screening/classes/{sc.id}/upload",
                         data={"csrf_token": csrf_token(html)},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "请选择" in answer.get_data(as_text=True)


def form_data(html: str, rows: list[dict]) -> dict:
    data = {"csrf_token": csrf_token(html), "action": "complete"}
    for n, row in enumerate(rows, 1):
        data.update({f"rows-{n}-{k}": v for k, v in row.items()})
    return data


def test_typed_rows_go_through_the_import(world, client):
    start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    path = f"/tasks/{sc.task_id}"
    _, html = page(client, path)
    assert 'name="rows-1-status"' in html and 'value="not_reached"' in html
    rows = [{"status": "flagged", "category": "at_risk", "fraud_type": "fake_job",
             "note": "网上兼职刷单"}, {"status": "talked"},
            {"status": "not_reached"}, {}]
    answer = client.post(path, data=form_data(html, rows))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "未联系原因" in html and "跟进日期" in html and "请填写状态" in html
    assert 'value="网上兼职刷单"' in html  # what was typed is kept
    assert created() == (0, 0, 0)
    rows[2].update(reason="电话未接", followup_on=later())
    rows[3] = {"status": "talked"}
    answer = client.post(path, data=form_data(html, rows))
    assert answer.status_code == 302
    assert created() == (4, 1, 1)
    db.session.expire_all()
    assert db.session.get(ScreeningClass, sc.id).source == "form"


def test_the_generic_completion_cannot_bypass_the_import(world):
    from caseflow.services import tasks as task_service
    from caseflow.services.sheets import SheetRejected

    start(world)
    sc = class_of(world, world.class1)
    actor = audit.Actor(world.counselor1.id, "counselor1", "counselor")
    with pytest.raises(SheetRejected):
        task_service.complete_task(sc.task_id, {"rows": [{"student_no": "2024000101",
                                                          "status": "talked"}]},
                                   world.counselor1, actor)
    assert created() == (0, 0, 0)


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


def test_the_template_names_survive_a_real_http_server(world, client):
    from urllib.parse import quote

    rnd = start(world)
    sc = class_of(world, world.class1)
    switch(client, "counselor1")
    for kind in ("xlsx", "csv"):
        header = client.get(f"/screening/classes/{sc.id}/template.{kind}").headers[
            "Content-Disposition"]
        header.encode("latin-1")  # a real server refuses anything else in a header
        assert header == (f'attachment; filename="{rnd.number}_K1.{kind}"; '
                          f"filename*=UTF-8''{quote(f'摸排_{rnd.number}_K1.{kind}')}")
