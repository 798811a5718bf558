"""Screening rounds through caseflow's services, on a real database, with simulated time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

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
from caseflow.services import screening_import as imports
from caseflow.services import screening_progress as progress
from caseflow.services import tasks as task_service
from caseflow.services.sheets import SheetRejected
from tests.factories import screening_sheet as xlsx
from tests.services.screening_support import actor, open_tasks, screening_world, start


@pytest.fixture
def world(app):
    return screening_world()


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
