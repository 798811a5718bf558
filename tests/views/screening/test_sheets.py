"""The screening screens: a class's sheet template, its upload, and the typed form."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from caseflow import audit
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Case,
    ScreeningClass,
    TaskRow,
)
from tests.conftest import csrf_token
from tests.factories import screening_sheet as xlsx
from tests.views.screening.support import (
    class_of,
    created,
    good_rows,
    later,
    page,
    start,
    switch,
    upload,
)
from workflows.class_screening import COLUMNS


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
