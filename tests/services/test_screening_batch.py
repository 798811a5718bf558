"""Screening sheets in bulk: many at once, from the command line, and filed by the worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from caseflow import audit
from caseflow.db import db
from caseflow.models import (
    Case,
    ScreeningEntry,
)
from caseflow.services import screening
from caseflow.services import screening_batch as batch
from caseflow.services import screening_import as imports
from caseflow.services.sheets import SheetRejected
from tests import factories
from tests.factories import screening_sheet as xlsx
from tests.services.screening_support import actor, screening_world, start


@pytest.fixture
def world(app):
    return screening_world()


def test_many_sheets_at_once_each_all_or_nothing(world):
    start(world)
    counselor = world.counselor1
    good = batch.Upload("K2", xlsx([["2024000201", "李四", "谈话"]]), world.counselor2,
                        actor(world.counselor2))
    bad = batch.Upload("K1", xlsx([["2024000101", "张三", "谈话"]]), counselor,
                       actor(counselor))
    flagged = batch.Upload("K3", xlsx([["2024000301", "王五", "标记", "涉诈隐患",
                                        "网络贷款/校园贷", "使用网贷"]]), world.counselor3,
                           actor(world.counselor3))
    unknown = batch.Upload("K9", b"", counselor, actor(counselor))
    results = batch.import_many([good, bad, flagged, unknown], chunk=2)
    assert results[0].entries == 1 and results[2].cases_opened == 1
    assert isinstance(results[1], SheetRejected)
    assert [p.code for p in results[1].problems] == ["missing_student"]
    assert "K9" in str(results[3])
    assert imports.find_class("K1").state == "open"
    assert db.session.scalar(select(func.count(ScreeningEntry.id))) == 2
    assert audit.verify(db.session).ok


def test_the_cli_starts_a_round_hands_out_a_template_and_imports_it(world, app, tmp_path,
                                                                     cli_database):
    from click.testing import CliRunner

    from caseflow.cli_discovery import screening_group

    runner = CliRunner()
    started = runner.invoke(screening_group, ["start", "--cohort", "freshmen",
                                              "--due-days", "3"])
    assert started.exit_code == 0, started.output
    assert "1 classes, 1 students" in started.output
    assert runner.invoke(screening_group, ["start", "--if-due"]).output.strip() == "no round due"
    sheet = tmp_path / "k4.csv"
    made = runner.invoke(screening_group, ["template", "--class", "K4", "-o", str(sheet)])
    assert made.exit_code == 0, made.output
    sheet.write_text(sheet.read_text(encoding="utf-8-sig").replace("孙八,,", "孙八,标记,受害"),
                     encoding="utf-8-sig")
    nobody = runner.invoke(screening_group, ["import", "--class", "K4", str(sheet)])
    assert nobody.exit_code == 1 and "give --as USERNAME" in nobody.output
    as_counselor1 = ["import", "--class", "K4", str(sheet), "--as", "counselor1"]
    assert "refused" in runner.invoke(screening_group, as_counselor1).output  # not K4's
    db.session.add(factories.CounselorClass(user_id=world.counselor1.id,
                                            class_id=world.class4.id))
    db.session.commit()
    refused = runner.invoke(screening_group, as_counselor1)
    assert refused.exit_code == 1
    assert "row 2, 类别: 类别 受害 无效" in refused.output and "row 2, 说明:" in refused.output
    sheet.write_text(sheet.read_text(encoding="utf-8-sig").replace("标记,受害", "谈话"),
                     encoding="utf-8-sig")
    done = runner.invoke(screening_group, as_counselor1)
    assert done.exit_code == 0, done.output
    assert "imported 1 students of class K4 (csv)" in done.output
    assert "0 late classes" in runner.invoke(screening_group, ["late"]).output


def test_cases_left_by_an_import_are_filed_by_the_worker_job(world):
    start(world)
    rows = [["2024000301", "王五", "标记", "受骗", "冒充公检法", "被骗 2 万元"]]
    [result] = batch.import_many([batch.Upload("K3", xlsx(rows), world.counselor3,
                                               actor(world.counselor3))], file_cases=False)
    assert (result.entries, result.cases_opened) == (1, 0)
    assert db.session.scalar(select(func.count(Case.id))) == 0
    scoped, filed, started = screening.worker_job()
    assert (filed, started) == (1, None)
    case = db.session.scalar(select(Case))
    assert (case.student_id, case.registered_by, case.category) == (
        world.student3.id, world.counselor3.id, "victim")
    assert db.session.scalar(select(ScreeningEntry.case_id)) == case.id
    assert screening.worker_job()[1] == 0


def test_sheets_read_in_worker_processes_give_the_same_results(world):
    start(world)
    uploads = [batch.Upload(code, xlsx(rows), user, actor(user)) for code, rows, user in (
        ("K1", [["2024000101", "张三", "谈话"]], world.counselor1),  # 周九 is missing
        ("K2", [["2024000201", "李四", "谈话"]], world.counselor2),
        ("K3", [["2024000301", "王五", "谈话"]], world.counselor3),
        ("K4", [["2025000101", "孙八", "谈话"]], world.officer1))]
    results = batch.import_many(uploads, workers=2)
    assert [type(r).__name__ for r in results] == [
        "SheetRejected", "ImportResult", "ImportResult", "ImportResult"]
    assert [p.code for p in results[0].problems] == ["missing_student"]
    assert [imports.find_class(c).state for c in ("K1", "K2", "K3", "K4")] == [
        "open", "done", "done", "done"]


def _filled_template(code: str) -> bytes:
    """Return a class's real .xlsx template with every student marked as talked to."""
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(imports.template(code)[1]))
    sheet = book["摸排"]
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row, 3, "谈话")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_cli_imports_a_folder_of_sheets_each_all_or_nothing(world, app, tmp_path,
                                                                 cli_database, monkeypatch):
    from click.testing import CliRunner

    from caseflow.cli_discovery import screening_group

    rnd = start(world)
    folder = tmp_path / "sheets"
    folder.mkdir()
    # K2's template under another name: its class is read from the sheet's own mark
    (folder / "二班.xlsx").write_bytes(_filled_template("K2"))
    # K3 by the template's file name; one student flagged, so a case opens
    (folder / f"摸排_{rnd.number}_K3.xlsx").write_bytes(xlsx([[
        "2024000301", "王五", "标记", "涉诈隐患", "网络贷款/校园贷", "使用网贷"]]))
    # K1's sheet misses 周九: refused, nothing of it written
    (folder / f"摸排_{rnd.number}_K1.xlsx").write_bytes(xlsx([["2024000101", "张三", "谈话"]]))
    (folder / "notes.xlsx").write_bytes(xlsx([["2025000101", "孙八", "谈话"]]))  # no class
    (folder / "readme.txt").write_text("not a sheet")  # not taken
    runner = CliRunner()
    as_affairs = runner.invoke(screening_group, ["import-many", str(folder), "--as", "affairs"])
    assert as_affairs.exit_code == 1
    assert "0 of 4 sheets imported, 4 refused" in as_affairs.output
    assert "refused: only the class's counselor or college officer may do this" in \
        as_affairs.output
    done = runner.invoke(screening_group, ["import-many", str(folder)])
    assert done.exit_code == 1, done.output
    out = done.output
    assert "二班.xlsx: imported 1 students of class K2 (xlsx)" in out
    assert f"摸排_{rnd.number}_K3.xlsx: imported 1 students of class K3 (xlsx): 1 cases " \
           "opened" in out
    assert f"摸排_{rnd.number}_K1.xlsx: refused: nothing was imported; 1 problem(s):" in out
    assert "notes.xlsx: refused: file: cannot tell which class this sheet is for" in out
    assert "readme.txt" not in out
    assert "2 of 4 sheets imported, 2 refused; 1 cases opened" in out
    assert [imports.find_class(c).state for c in ("K1", "K2", "K3", "K4")] == [
        "open", "done", "done", "open"]
    case = db.session.scalar(select(Case))
    assert (case.student_id, case.registered_by) == (world.student3.id, world.counselor3.id)
    locked = folder / f"摸排_{rnd.number}_K4.xlsx"
    locked.write_bytes(_filled_template("K4"))
    real_open = Path.open

    def refuse_locked(self, *args, **kwargs):  # as for a file of another user (tests run as root)
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(Path, "open", refuse_locked)
        unreadable = runner.invoke(screening_group, ["import-many", str(folder)])
    assert unreadable.exit_code == 1, unreadable.output
    assert f"cannot read {locked}: Permission denied; nothing was imported" in \
        unreadable.output
    assert imports.find_class("K4").state == "open"
    locked.unlink()
    misnamed = tmp_path / f"摸排_{rnd.number}_K1.xlsx"  # K4's template, named for K1
    misnamed.write_bytes(_filled_template("K4"))
    wrong = runner.invoke(screening_group, ["import-many", str(misnamed)])
    assert wrong.exit_code == 1
    assert "这张表是为轮次 " in wrong.output and "的班级 K4 生成的" in wrong.output
    assert imports.find_class("K1").state == "open"
    again = runner.invoke(screening_group, ["import-many", str(folder / "二班.xlsx")])
    assert again.exit_code == 0, again.output
    assert "class K2 already imported: nothing new" in again.output
    assert db.session.scalar(select(func.count(Case.id))) == 1
    assert audit.verify(db.session).ok
