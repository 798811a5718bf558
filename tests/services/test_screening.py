"""Screening rounds through caseflow's services, on a real database, with simulated time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caseflow import audit, clock, timefmt
from caseflow.db import db
from caseflow.models import (
    Case,
    Finding,
    Notification,
    ScreeningClass,
    ScreeningCollege,
    ScreeningEntry,
    ScreeningRound,
    Setting,
    TaskRow,
)
from caseflow.services import Forbidden, ValidationFailed, cases, screening, timers
from caseflow.services import screening_batch as batch
from caseflow.services import screening_import as imports
from caseflow.services import screening_progress as progress
from caseflow.services import tasks as task_service
from caseflow.services.sheets import SheetRejected
from tests import factories
from tests.factories import screening_sheet as xlsx


def actor(user):
    return audit.Actor(user.id, user.username, user.role_names[0])


@pytest.fixture
def world(app):
    ns = factories.deployed_org()
    ns.class4 = factories.Klass(code="K4", name="软件2501班", grade=2025,
                                college_id=ns.college1.id)
    db.session.add(ns.class4)
    db.session.flush()
    ns.fresh = factories.student("2025000101", "孙八", ns.class4, phone=None, id_card=None)
    ns.intern = factories.student("2024000102", "周九", ns.class1, phone=None, id_card=None,
                                  psych_watch=True)
    ns.intern.status = "实习"
    db.session.commit()
    return ns


def start(world, **options) -> ScreeningRound:
    return screening.start_round(world.affairs, actor(world.affairs), **options)




def open_tasks(process_id: str):
    return db.session.scalars(select(TaskRow).where(TaskRow.process_id == process_id,
                                                    TaskRow.state == "ready")
                              .order_by(TaskRow.id)).all()


def test_a_round_gives_each_class_one_task_and_each_college_one_review(world):
    rnd = start(world)
    assert (rnd.cohort, rnd.classes, rnd.students, rnd.trigger) == ("all", 4, 5, "manual")
    assert rnd.due_at == rnd.started_at + timedelta(days=7)  # the screening_round setting
    tasks = {t.class_id: t for t in open_tasks("class_screening")}
    assert set(tasks) == {world.class1.id, world.class2.id, world.class3.id, world.class4.id}
    t1 = tasks[world.class1.id]
    assert (t1.task_spec, t1.role, t1.college_id, t1.assignee_id, t1.due_at) == (
        "screen_class", "counselor", world.college1.id, world.counselor1.id, rnd.due_at)
    assert access_sees(world.counselor1, t1)
    reviews = open_tasks("screening_round")
    assert sorted((t.college_id, t.role) for t in reviews) == [
        (world.college1.id, "college_officer"), (world.college2.id, "college_officer")]
    assert reviews[0].due_at == rnd.due_at + timedelta(days=3)
    assert db.session.scalar(select(func.count(ScreeningCollege.id))) == 2
    assert audit.verify(db.session).ok


def access_sees(user, task) -> bool:
    from caseflow import access

    return access.may_work_on(user, task)


def test_only_the_lead_office_starts_a_round(world):
    with pytest.raises(Forbidden):
        start_by(world.counselor1)
    db.session.merge(Setting(key="lead_office", value='"security_office"'))
    db.session.commit()
    with pytest.raises(Forbidden):
        start_by(world.affairs)
    assert start_by(world.security).classes == 4


def start_by(user):
    return screening.start_round(user, actor(user))


@pytest.mark.parametrize("options, classes, students", [
    ({"cohort": "freshmen"}, {"K4"}, 1),
    ({"cohort": "interns"}, {"K1"}, 1),
    ({"cohort": "key_groups"}, {"K1"}, 1),
    ({"college_code": "C02"}, {"K3"}, 1),
    ({"cohort": "all", "college_code": "C01"}, {"K1", "K2", "K4"}, 4),
])
def test_a_round_may_target_a_cohort(world, options, classes, students):
    rnd = start(world, **options)
    codes = {c.class_code for c in progress.classes(rnd.id)}
    assert (codes, rnd.students) == (classes, students)


def test_an_empty_cohort_or_an_unknown_college_is_refused(world):
    world.intern.status = "在校"
    db.session.commit()
    with pytest.raises(ValidationFailed):
        start(world, cohort="interns")
    with pytest.raises(Exception, match="no college"):
        start(world, college_code="C99")
    assert db.session.scalar(select(func.count(ScreeningRound.id))) == 0


def test_flagged_students_open_cases_or_attach_to_the_open_one(world):
    existing, _ = cases.register(world.student1.id, {
        "discovery_source": "counselor_talk", "category": "at_risk", "fraud_type": "fake_job",
        "what_happened": "网上兼职"}, world.counselor1, actor(world.counselor1))
    start(world)
    rows = [["2024000101", "张三", "标记", "受骗", "刷单返利", "已被骗 3000 元"],
            ["2024000102", "周九", "标记", "参诈涉诈", "出售/出租/出借银行卡", "出租银行卡"]]
    result = imports.import_sheet("K1", xlsx(rows), world.counselor1, actor(world.counselor1))
    assert (result.cases_opened, result.findings_attached) == (1, 1)
    db.session.refresh(existing)
    assert existing.category == "victim"  # the finding re-ran triage on the open case
    new = db.session.scalar(select(Case).where(Case.student_id == world.intern.id))
    assert (new.category, new.behaviour, new.source) == ("involved", "bank_card", "screening")
    entries = db.session.scalars(select(ScreeningEntry).order_by(ScreeningEntry.id)).all()
    assert [e.case_id for e in entries] == [existing.id, new.id]
    assert db.session.scalar(select(func.count(Finding.id))) == 3


def test_the_form_rows_are_checked_like_a_sheet(world):
    start(world)
    sc = imports.find_class("K1")
    with pytest.raises(SheetRejected) as err:
        imports.submit_rows(sc.id, [{"student_no": "2024000101", "status": "talked"}],
                            world.counselor1, actor(world.counselor1))
    assert [(p.row, p.code) for p in err.value.problems] == [(None, "missing_student")]
    later = timefmt.local(clock.now()).date() + timedelta(days=1)
    result = imports.submit_rows(sc.id, [
        {"student_no": "2024000101", "status": "talked"},
        {"student_no": "2024000102", "status": "not_reached", "reason": "实习在外地",
         "followup_on": later.isoformat(), "note": "重点关注，已联系家长"}],
        world.counselor1, actor(world.counselor1))
    assert (result.source, result.entries, result.followups) == ("form", 2, 1)
    with pytest.raises(Forbidden):
        imports.submit_rows(sc.id, [], world.counselor2, actor(world.counselor2))


def test_a_follow_up_date_opens_a_reminder_for_the_counselor_on_that_day(world):
    start(world)
    later = timefmt.local(clock.now()).date() + timedelta(days=2)
    rows = [["2024000101", "张三", "谈话"],
            ["2024000102", "周九", "未能联系", None, None, "重点关注", "实习单位在外地",
             later.isoformat()]]
    imports.import_sheet("K1", xlsx(rows), world.counselor1, actor(world.counselor1))
    assert open_tasks("class_screening") == [t for t in open_tasks("class_screening")
                                             if t.class_id != world.class1.id]
    remind = datetime.combine(later, time(8, 0), timefmt.SHANGHAI)  # 08:00 on that day
    clock.advance(remind - clock.now() - timedelta(minutes=1))
    timers.fire_due()
    assert [t.task_spec for t in open_tasks("class_screening") if t.class_id is None] == []
    clock.advance(timedelta(minutes=2))
    assert timers.fire_due() >= 1
    [reminder] = [t for t in open_tasks("class_screening") if t.task_spec != "screen_class"]
    assert reminder.task_spec == "screening_followup"
    assert screening.scope_open_tasks() == 0  # the runner scoped it when the timer fired
    db.session.refresh(reminder)
    assert (reminder.class_id, reminder.assignee_id) == (world.class1.id, world.counselor1.id)
    task_service.complete_task(reminder.id, {"result": "reached", "note": "已电话联系上"},
                               world.counselor1, actor(world.counselor1))
    sc = imports.find_class("K1")
    assert db.session.get(ScreeningClass, sc.id).state == "done"


def test_the_lead_office_sees_late_classes_and_students_not_reached(world):
    rnd = start(world)
    later = timefmt.local(clock.now()).date() + timedelta(days=3)
    imports.import_sheet("K1", xlsx([
        ["2024000101", "张三", "谈话"],
        ["2024000102", "周九", "未能联系", None, None, "重点关注", "关机", later.isoformat()]]),
        world.counselor1, actor(world.counselor1))
    assert progress.late_classes(rnd.id) == []
    clock.advance(timedelta(days=7, minutes=1))
    timers.fire_due()
    late = progress.late_classes(rnd.id, world.affairs)
    assert [c.class_code for c in late] == ["K2", "K4", "K3"]
    assert all(c.late for c in late)
    [missed] = progress.unreached_students(rnd.id, world.affairs)
    assert (missed.student_no, missed.reason, missed.followup_on) == ("2024000102", "关机", later)
    assert [c.class_code for c in progress.late_classes(rnd.id, world.officer2)] == ["K3"]
    with pytest.raises(Forbidden):
        progress.late_classes(rnd.id, world.counselor1)
    cover = progress.coverage(rnd.id)
    assert (cover["students"], cover["covered"], cover["talked"], cover["not_reached"]) == (
        5, 2, 1, 1)
    notices = db.session.scalars(select(Notification).where(
        Notification.kind == "escalation_raised")).all()
    assert {n.user_id for n in notices} >= {world.officer1.id, world.officer2.id,
                                            world.affairs.id}


def test_the_college_officer_reviews_the_colleges_round(world):
    start(world)
    review = next(t for t in open_tasks("screening_round") if t.college_id == world.college1.id)
    with pytest.raises(Exception, match="no task"):
        screening.review_round(review.id, {"reviewed": True}, world.officer2,
                               actor(world.officer2))
    screening.review_round(review.id, {"reviewed": True, "issues": "K2 未完成"},
                           world.officer1, actor(world.officer1))
    part = db.session.scalar(select(ScreeningCollege).where(
        ScreeningCollege.college_id == world.college1.id))
    assert (part.reviewed_by, db.session.get(TaskRow, review.id).state) == (
        world.officer1.id, "completed")


def test_the_timer_starts_the_next_round_once_per_cycle(world):
    assert screening.start_if_due() is None  # the lead office starts the first round
    first = start(world)
    clock.advance(timedelta(days=13))
    assert screening.start_if_due() is None
    clock.advance(timedelta(days=1, minutes=1))
    second = screening.start_if_due()
    assert (second.trigger, second.classes) == ("timer", first.classes)
    assert screening.start_if_due() is None  # the same cycle is not started twice
    assert db.session.scalar(select(func.count(ScreeningRound.id))) == 2


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
