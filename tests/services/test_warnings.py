"""Police warnings through caseflow's services, on a real database, with simulated time."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from caseflow import audit, clock
from caseflow.db import db
from caseflow.models import (
    AuditEvent,
    Case,
    Finding,
    Notification,
    PoliceWarning,
    TaskRow,
)
from caseflow.services import Conflict, Forbidden, ValidationFailed, cases, timers
from caseflow.services import warnings as service
from tests import factories


def actor(user):
    return audit.Actor(user.id, user.username, user.role_names[0])


@pytest.fixture
def world(app):
    ns = factories.warning_org()
    db.session.commit()
    return ns


def warn(world, **data):
    raw = {"warned_at": clock.now().isoformat(), "fraud_type": "fake_investment", **data}
    return service.add_warning(raw, world.security, actor(world.security))


def near(a, b) -> bool:
    return abs(a - b) < timedelta(seconds=5)  # real time runs on between the steps


def tasks(warning):
    return {t.task_spec: t for t in db.session.scalars(select(TaskRow).where(
        TaskRow.instance_id == warning.instance_id, TaskRow.state == "ready"))}


def reach(world, warning, who, **outcome):
    user = {"reach_counselor": world.counselor1, "reach_security": world.security}[who]
    data = {"reached_at": clock.now().isoformat(), "reached_how": "in_person",
            "dissuaded": True, **outcome}
    return service.complete_task(tasks(warning)[who].id, data, user, actor(user))


def test_an_exact_phone_match_sends_counselor_and_security_office_at_once(world):
    warning = warn(world, phone="138 0000 0000")
    assert (warning.state, warning.match_method, warning.student_id) == (
        "matched", "phone", world.student1.id)
    open_ = tasks(warning)
    assert set(open_) == {"reach_counselor", "reach_security"}
    mine = open_["reach_counselor"]
    assert (mine.role, mine.assignee_id, mine.class_id, mine.college_id) == (
        "counselor", world.counselor1.id, world.class1.id, world.college1.id)
    assert near(mine.due_at, warning.matched_at + timedelta(minutes=30))
    assert open_["reach_security"].role == "security_office"
    entered = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == "warning_entered"))
    assert "13800000000" not in entered.detail and "138****0000" in entered.detail


def test_an_exact_id_card_match_starts_too(world):
    warning = warn(world, id_card="370102200501011217", name="李四")
    assert (warning.state, warning.student_id, warning.match_method) == (
        "matched", world.student2.id, "id_card")


def test_a_name_gives_candidates_to_pick_from_narrowed_by_college(world):
    warning = warn(world, name="张三")
    assert warning.state == "candidates" and warning.instance_id is None
    [(listed, candidates)] = service.open_warnings(world.security)
    assert listed.id == warning.id
    assert sorted(c.student_id for c in candidates) == [world.student1.id, world.namesake.id]
    with pytest.raises(ValidationFailed):
        service.pick_candidate(warning.id, world.student3.id, world.security,
                               actor(world.security))
    service.pick_candidate(warning.id, world.namesake.id, world.security,
                           actor(world.security))
    assert (warning.state, warning.student_id, warning.match_method) == (
        "matched", world.namesake.id, "picked")
    assert tasks(warning)["reach_counselor"].assignee_id == world.counselor2.id
    narrowed = warn(world, name="张三", college_id=world.college2.id)
    assert narrowed.state == "unmatched"


def test_a_phone_of_someone_else_is_not_trusted_blindly(world):
    warning = warn(world, phone="13800000000", name="王五")
    assert warning.state == "candidates"  # the number is 张三's, the name is not


def test_an_unmatched_warning_stays_listed_until_resolved_by_hand(world):
    warning = warn(world, name="查无此人", note="预警平台推送")
    assert warning.state == "unmatched"
    assert [w.number for w, _ in service.open_warnings(world.affairs)] == [warning.number]
    service.assign_student(warning.id, world.student3.id, world.security, actor(world.security))
    assert (warning.state, warning.match_method, warning.college_id) == (
        "matched", "manual", world.college2.id)
    assert service.open_warnings(world.security) == []
    with pytest.raises(Conflict):
        service.assign_student(warning.id, world.student1.id, world.security,
                               actor(world.security))


def test_who_may_enter_warnings_and_the_same_police_reference_twice(world):
    with pytest.raises(Forbidden):
        service.add_warning({"name": "张三", "warned_at": clock.now().isoformat(),
                             "fraud_type": "other"}, world.counselor1, actor(world.counselor1))
    warn(world, name="查无此人", source_ref="JQ-2026-001")
    with pytest.raises(Conflict, match="JQ-2026-001"):
        warn(world, name="查无此人", source_ref="JQ-2026-001")
    assert db.session.scalar(select(func.count(PoliceWarning.id))) == 1


def test_dissuaded_by_the_counselor_closes_the_other_task_and_opens_no_case(world):
    warning = warn(world, phone="13800000000")
    clock.advance(timedelta(minutes=17))
    reach(world, warning, "reach_counselor")
    security = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "reach_security"))
    assert security.state == "cancelled"
    assert set(tasks(warning)) == {"police_feedback"}
    assert (warning.state, warning.minutes_to_reach, warning.dissuaded, warning.reached_role) == (
        "reached", 17, True, "counselor")
    assert warning.case_id is None and db.session.scalar(select(func.count(Case.id))) == 0
    feedback = tasks(warning)["police_feedback"]
    assert near(feedback.due_at, clock.now() + timedelta(hours=24))
    service.complete_task(feedback.id, {"fed_back_at": clock.now().isoformat(),
                                        "channel": "system", "content": "已当面劝阻"},
                          world.security, actor(world.security))
    assert warning.state == "closed" and warning.fed_back_at is not None


def test_not_dissuaded_opens_an_at_risk_case_whose_talk_is_due_in_30_minutes(world):
    warning = warn(world, phone="13800000000")
    reach(world, warning, "reach_security", dissuaded=False, what_happened="仍坚持投资")
    case = db.session.get(Case, warning.case_id)
    assert (case.category, case.source, case.student_id) == (
        "at_risk", "warning", world.student1.id)
    talk = db.session.scalar(select(TaskRow).where(TaskRow.case_id == case.id,
                                                   TaskRow.task_spec == "talk"))
    assert near(talk.due_at, clock.now() + timedelta(minutes=30))  # still going on
    assert set(tasks(warning)) == {"police_feedback"}


def test_money_just_moved_makes_a_victim_case_with_the_stop_payment_step(world):
    warning = warn(world, phone="13800000000")
    reach(world, warning, "reach_counselor", money_transferred=True, amount_cny="5000",
          transferred_at=(clock.now() - timedelta(minutes=40)).isoformat())
    case = db.session.get(Case, warning.case_id)
    assert (case.category, case.loss_cny, json.loads(case.flags)["need_stop_payment"]) == (
        "victim", Decimal("5000.00"), True)
    assert db.session.scalar(select(TaskRow.role).where(
        TaskRow.case_id == case.id, TaskRow.task_spec == "stop_payment")) == "security_office"
    assert warning.loss_cny == Decimal("5000.00")


def test_taking_part_opens_an_involved_case_or_attaches_to_the_open_one(world):
    existing, _ = cases.register(world.student1.id, {
        "discovery_source": "counselor_talk", "category": "at_risk", "fraud_type": "fake_job",
        "what_happened": "网上兼职"}, world.counselor1, actor(world.counselor1))
    warning = warn(world, phone="13800000000")
    reach(world, warning, "reach_counselor", took_part=True, behaviour="bank_card")
    assert warning.case_id == existing.id
    assert db.session.scalar(select(func.count(Case.id))) == 1
    assert db.session.scalar(select(func.count(Finding.id))) == 2
    assert db.session.get(Case, existing.id).category == "involved"


def test_an_unreached_student_escalates_at_30_minutes_and_to_leaders_at_2_hours(world):
    warning = warn(world, phone="13800000000",
                   warned_at=(clock.now() - timedelta(minutes=30)).isoformat())
    clock.advance(timedelta(minutes=31))
    timers.fire_due()
    first = {(n.user_id, n.step) for n in db.session.scalars(select(Notification))}
    assert (world.officer1.id, "见面劝阻（辅导员）") in first
    assert (world.affairs.id, "见面劝阻（辅导员）") in first
    assert world.leader.id not in {u for u, _ in first}
    clock.advance(timedelta(minutes=60))  # 2 h 1 min after the warning
    timers.fire_due()
    assert world.leader.id in set(db.session.scalars(select(Notification.user_id)))
    assert set(tasks(warning)) == {"reach_counselor", "reach_security"}


def test_figures_give_the_time_to_reach_and_the_dissuasion_rate(world):
    since = clock.now() - timedelta(hours=1)
    one = warn(world, phone="13800000000")
    two = warn(world, phone="13800000002")
    warn(world, name="查无此人")
    clock.advance(timedelta(minutes=10))
    reach(world, one, "reach_counselor")
    clock.advance(timedelta(minutes=10))
    service.complete_task(tasks(two)["reach_security"].id, {
        "reached_at": clock.now().isoformat(), "reached_how": "phone", "dissuaded": False},
        world.security, actor(world.security))
    school, *colleges = service.figures(since, clock.now() + timedelta(hours=1), world.affairs)
    assert (school.name, school.warnings, school.reached, school.dissuaded) == ("全校", 3, 2, 1)
    assert school.rate == pytest.approx(1 / 3) and school.median_minutes == 15
    assert sorted((c.name, c.warnings, c.dissuaded, c.median_minutes) for c in colleges) == [
        ("信息工程学院", 1, 1, 10), ("经济管理学院", 1, 0, 20)]
    assert audit.verify(db.session).ok


def test_the_cli_enters_a_warning_and_lists_those_waiting(world, app, cli_database):
    from click.testing import CliRunner

    from caseflow.cli_discovery import warning_group

    runner = CliRunner()
    at = clock.now().isoformat()
    added = runner.invoke(warning_group, ["add", "--phone", "13800000001", "--at", at,
                                          "--fraud-type", "fake_authority", "--ref", "JQ9"])
    assert added.exit_code == 0, added.output
    assert added.output.strip().endswith(": matched")
    again = runner.invoke(warning_group, ["add", "--phone", "13800000001", "--at", at,
                                          "--fraud-type", "fake_authority", "--ref", "JQ9"])
    assert again.exit_code == 1 and "already entered" in again.output
    runner.invoke(warning_group, ["add", "--name", "张三", "--college", "C01", "--at", at,
                                  "--fraud-type", "other"])
    listed = runner.invoke(warning_group, ["list"])
    assert "candidates - 张三 (2 candidates)" in listed.output  # both 张三 are in C01
    assert "1 warning(s) waiting for a student" in listed.output


def test_the_generic_task_service_hands_reach_steps_to_the_warning_service(world):
    from caseflow.models import Case
    from caseflow.services import tasks as task_service

    warning = warn(world, phone="13800000000")
    row = tasks(warning)["reach_counselor"]
    task_service.complete_task(row.id, {"reached_at": clock.now().isoformat(),
                                        "reached_how": "in_person", "dissuaded": False},
                               world.counselor1, actor(world.counselor1))
    db.session.refresh(warning)
    assert warning.state == "reached" and warning.dissuaded is False
    case = db.session.scalar(select(Case).where(Case.student_id == world.student1.id))
    assert case is not None and case.category == "at_risk"  # not dissuaded: a case opens


def test_a_timer_fired_by_the_worker_notifies_only_the_students_college(world):
    from caseflow.models import Notification
    from caseflow.services import timers

    warn(world, phone="13800000000")
    clock.advance(timedelta(minutes=31))
    timers.fire_due()
    officers = {n.user_id for n in db.session.scalars(select(Notification).where(
        Notification.role == "college_officer"))}
    assert officers == {world.officer1.id}  # not officer2 of another college
