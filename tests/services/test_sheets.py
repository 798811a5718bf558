"""Screening sheets on a real database: templates, real .xlsx and .csv uploads, bad rows."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from caseflow import audit, clock, timefmt
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Case,
    Finding,
    ScreeningClass,
    ScreeningEntry,
    TaskRow,
    TimerRow,
    WorkflowInstance,
)
from caseflow.services import Conflict, screening, sheets
from caseflow.services import screening_import as imports
from caseflow.services.sheets import SheetRejected
from tests import factories
from tests.factories import screening_sheet as xlsx
from workflows.class_screening import COLUMNS


def actor(user):
    return audit.Actor(user.id, user.username, user.role_names[0])


@pytest.fixture
def world(app):
    ns = factories.deployed_org()
    ns.more = factories.classmates(ns.class1, range(2, 15))
    ns.more[0].hardship = True  # 2024000102 is a key-group student: a note is required
    db.session.commit()
    ns.round = screening.start_round(ns.affairs, actor(ns.affairs))
    return ns


def today() -> date:
    return timefmt.local(clock.now()).date()




def good_rows(world, note_for_all: bool = False):
    rows = [["2024000101", "张三", "标记", "涉诈隐患", "虚假招聘/兼职", "网上兼职刷单"],
            ["2024000102", "学生2", "谈话", None, None, "家庭经济困难，已谈话"],
            ["2024000103", "学生3", "未能联系", None, None, None, "实习在外地，电话未接",
             (today() + timedelta(days=2)).isoformat()]]
    rows += [[f"20240001{n:02d}", f"学生{n}", "谈话"] + ([None, None, "已谈"] if note_for_all
                                                          else []) for n in range(4, 15)]
    return rows


def created():
    return (db.session.scalar(select(func.count(ScreeningEntry.id))),
            db.session.scalar(select(func.count(Case.id))),
            db.session.scalar(select(func.count(Finding.id))))


def class1(world) -> ScreeningClass:
    return imports.find_class("K1")


def test_the_template_lists_every_student_in_scope_under_the_exact_columns(world):
    name, content = imports.template("K1", "xlsx", world.counselor1)
    assert name == f"摸排_{world.round.number}_K1.xlsx"
    book = load_workbook(io.BytesIO(content))
    sheet = book["摸排"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert [r[:2] for r in rows[1:]] == [("2024000101", "张三")] + [
        (f"20240001{n:02d}", f"学生{n}") for n in range(2, 15)]
    assert sheet.cell(3, 6).fill.fgColor.rgb.endswith("FFF2CC")  # the key-group student
    assert book["选项"].sheet_state == "hidden"
    assert [c.value for c in book["选项"]["A"] if c.value] == ["谈话", "标记", "未能联系"]
    assert "虚假招聘/兼职" in [c.value for c in book["选项"]["C"]]
    assert len(sheet.data_validations.dataValidation) == 3
    assert "class=K1" in book.properties.keywords
    _, text = imports.template("K1", "csv", world.counselor1)
    assert text.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert tuple(lines[0]) == COLUMNS and len(lines) == 15


def test_a_filled_in_template_is_imported(world):
    _, content = imports.template("K1", "xlsx", world.counselor1)
    book = load_workbook(io.BytesIO(content))
    sheet = book["摸排"]
    for n, row in enumerate(good_rows(world), 2):
        for col, value in enumerate(row, 1):
            sheet.cell(n, col, value)
    sheet.cell(4, 8, today() + timedelta(days=2))  # a real date cell
    out = io.BytesIO()
    book.save(out)
    result = imports.import_sheet("K1", out.getvalue(), world.counselor1, actor(world.counselor1))
    assert (result.source, result.entries, result.cases_opened, result.followups) == (
        "xlsx", 14, 1, 1)
    sc = class1(world)
    assert (sc.state, sc.talked, sc.flagged, sc.not_reached) == ("done", 12, 1, 1)
    case = db.session.scalar(select(Case))
    assert (case.student_id, case.source, case.category, case.fraud_type) == (
        world.student1.id, "screening", "at_risk", "fake_job")
    assert db.session.get(TaskRow, sc.task_id).state == "completed"
    assert db.session.scalar(select(TimerRow.event_id).where(
        TimerRow.instance_id == sc.instance_id, TimerRow.state == "waiting")) == "wait_followup"
    assert audit.verify(db.session).ok


def test_every_bad_row_is_named_with_row_and_column_and_nothing_is_created(world):
    yesterday, long_note = (today() - timedelta(days=1)).isoformat(), "很长" * 1001
    rows = [
        ["2024000101", "张三", None],                                      # 2 no status
        ["2024000101", "张三", "谈话"],                                    # 3 duplicate
        ["9999999999", "无名", "谈话"],                                    # 4 unknown
        ["2024000201", "李四", "谈话"],                                    # 5 other class
        ["2024000102", "学生2", "谈话"],                                   # 6 key group
        ["2024000103", "学生3", "标记"],                                   # 7 no category, note
        ["2024000104", "学生4", "标记", "受害", None, "说明"],             # 8 bad category
        ["2024000105", "学生5", "标记", "涉诈隐患", "发财", "说明"],       # 9 bad fraud type
        ["2024000106", "学生6", "标记", "受骗", None, "说明"],             # 10 no fraud type
        ["2024000107", "学生7", "未能联系"],                               # 11 no reason, date
        ["2024000108", "学生8", "未能联系", None, None, None, "外出", yesterday],  # 12 past
        ["2024000109", "学生9", "未能联系", None, None, None, "外出", "下周"],     # 13 bad date
        ["2024000110", "学生10", "休息"],                                  # 14 bad status
        ["2024000111", "李雷", "谈话", "受骗"],                            # 15 name, only 标记
        ["2024000112", "学生12", "谈话", None, None, long_note],           # 16 too long
        ["2024000113", "学生13", "谈话", None, None, None, None, yesterday],  # 17 only 未能联系
    ]                                                                     # 2024000114 missing
    before = created()
    version = db.session.get(WorkflowInstance, class1(world).instance_id).version
    with pytest.raises(SheetRejected) as err:
        imports.import_sheet("K1", xlsx(rows), world.counselor1, actor(world.counselor1))
    found = {(p.row, p.column, p.code) for p in err.value.problems}
    assert found == {
        (2, "状态", "no_status"), (3, "学号", "duplicate_row"), (4, "学号", "unknown_student"),
        (5, "学号", "not_in_class"), (6, "说明", "no_note_key_group"),
        (7, "类别", "no_category"), (7, "说明", "no_note"), (8, "类别", "bad_category"),
        (9, "诈骗类型", "bad_fraud_type"), (10, "诈骗类型", "no_fraud_type"),
        (11, "未联系原因", "no_reason"), (11, "跟进日期", "no_followup_date"),
        (12, "跟进日期", "past_date"), (13, "跟进日期", "bad_date"), (14, "状态", "bad_status"),
        (15, "姓名", "name_mismatch"), (15, "类别", "only_flagged"), (16, "说明", "too_long"),
        (17, "跟进日期", "only_not_reached"), (None, "学号", "missing_student")}
    assert [p.row for p in err.value.problems][-1] is None  # listed by row, the missing last
    assert "K2" in next(p.message for p in err.value.problems if p.code == "not_in_class")
    assert err.value.errors["rows"][0] == {"row": 2, "column": "状态", "code": "no_status",
                                           "message": err.value.problems[0].message}
    assert created() == before
    sc = class1(world)
    assert sc.state == "open" and db.session.get(TaskRow, sc.task_id).state == "ready"
    assert db.session.get(WorkflowInstance, sc.instance_id).version == version
    assert not db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == "screening_submitted"))


def test_a_student_outside_the_rounds_cohort_is_a_bad_row(world):
    intern = world.more[1]
    intern.status = "实习"
    db.session.commit()
    rnd = screening.start_round(world.affairs, actor(world.affairs), cohort="interns")
    rows = [["2024000103", "学生3", "谈话"], ["2024000101", "张三", "谈话"]]
    with pytest.raises(SheetRejected) as err:
        imports.import_sheet("K1", xlsx(rows), world.counselor1, actor(world.counselor1),
                             round_id=rnd.id)
    assert [(p.row, p.code) for p in err.value.problems] == [(3, "not_in_scope")]


def test_a_sheet_with_other_columns_is_refused(world):
    header = ("学号", "姓名", "状态", "类别", "说明")
    with pytest.raises(SheetRejected) as err:
        imports.import_sheet("K1", xlsx([], header), world.counselor1, actor(world.counselor1))
    [problem] = err.value.problems
    assert (problem.row, problem.code) == (1, "bad_header")
    assert "学号, 姓名, 状态, 类别, 说明" in problem.message


@pytest.mark.parametrize("content, code", [
    (b"", "empty_file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "xls_file"),
    (b"PK\x03\x04 not really a zip", "not_a_sheet"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not_a_sheet"),
])
def test_files_are_type_checked_by_their_content(world, content, code):
    with pytest.raises(SheetRejected) as err:
        imports.import_sheet("K1", content, world.counselor1, actor(world.counselor1))
    assert [p.code for p in err.value.problems] == [code]


def test_a_file_over_the_size_limit_is_refused(world, app):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    with pytest.raises(SheetRejected) as err:
        imports.import_sheet("K1", xlsx(good_rows(world)), world.counselor1,
                             actor(world.counselor1))
    assert [p.code for p in err.value.problems] == ["too_large"]


def test_a_sheet_made_for_another_class_is_refused(world):
    _, content = imports.template("K2", "xlsx")
    with pytest.raises(SheetRejected) as err:
        imports.import_sheet("K1", content, world.counselor1, actor(world.counselor1))
    assert [p.code for p in err.value.problems] == ["wrong_sheet"]


def csv_bytes(rows, encoding: str, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


@pytest.mark.parametrize("encoding, bom", [("utf-8", True), ("utf-8", False),
                                           ("gb18030", False)])
def test_csv_in_utf8_with_or_without_bom_or_gb18030_is_imported(world, encoding, bom):
    data = csv_bytes(good_rows(world), encoding, bom)
    result = imports.import_sheet("K1", data, world.counselor1, actor(world.counselor1))
    assert (result.source, result.entries, result.cases_opened) == ("csv", 14, 1)
    note = db.session.scalar(select(ScreeningEntry.note).where(
        ScreeningEntry.student_id == world.student1.id))
    assert note == "网上兼职刷单"


def test_sending_the_same_sheet_again_creates_nothing_twice(world):
    data = xlsx(good_rows(world))
    first = imports.import_sheet("K1", data, world.counselor1, actor(world.counselor1))
    counts = created()
    again = imports.import_sheet("K1", data, world.counselor1, actor(world.counselor1))
    same_as_csv = imports.import_sheet("K1", csv_bytes(good_rows(world), "gb18030"),
                                       world.counselor1, actor(world.counselor1))
    assert (first.already, again.already, same_as_csv.already) == (False, True, True)
    assert created() == counts == (14, 1, 1)
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == "screening_submitted")) == 1
    changed = good_rows(world)
    changed[1][5] = "改过的说明"
    with pytest.raises(Conflict):
        imports.import_sheet("K1", xlsx(changed), world.counselor1, actor(world.counselor1))


def test_an_interrupted_import_is_finished_by_sending_the_sheet_again(world, monkeypatch):
    from caseflow.services import cases

    def refuse(*args, **kwargs):
        raise Conflict("the database was busy")

    with monkeypatch.context() as patched:
        patched.setattr(cases, "register", refuse)
        result = imports.import_sheet("K1", xlsx(good_rows(world)), world.counselor1,
                                      actor(world.counselor1))
    assert result.filing_error and created() == (14, 0, 0)
    again = imports.import_sheet("K1", xlsx(good_rows(world)), world.counselor1,
                                 actor(world.counselor1))
    assert (again.already, again.cases_opened) == (True, 1)
    assert created() == (14, 1, 1)


def test_dates_may_be_written_the_ways_spreadsheets_write_them():
    roster = sheets.Roster("K1", "一班", "MP1", "", (sheets.RosterStudent(1, "1", "甲"),))
    vocab = sheets.Vocab({}, {})
    for value in ("2026-03-05", "2026/3/5", "2026年3月5日", "20260305", 46086,
                  date(2026, 3, 5)):
        lines = [(1, list(COLUMNS)), (2, ["1", "甲", "未能联系", None, None, None, "外出", value])]
        [row] = sheets.check(lines, roster, vocab, date(2026, 3, 1), {})
        assert row.followup_on == date(2026, 3, 5), value
