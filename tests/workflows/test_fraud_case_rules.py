"""SPEC.md's rules on fraud_case, engine-level: withdrawal requests (issue 3's behaviour 8),
major cases, due times and escalation targets, downgrades, re-triage and closure.

Each step loads the stored state, acts and dumps it again (see conftest.CaseRun), with
simulated time; nothing sleeps and nothing touches a web app or a database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.workflows.conftest import RED_NOTIFY, T0, D, H, S, iso, kinds


# --------------------------------------------------------------------------- behaviour 8
@pytest.mark.parametrize("step", ["at_registration", "after_talk", "in_visits"])
def test_at_risk_withdrawal_at_any_step_cancels_everything(open_case, step):
    """Issue 3 #8: an at-risk case is withdrawn at once; every open task is cancelled."""
    case = open_case(category="at_risk", discovery_source="self_test", fraud_type="fake_job")
    if step != "at_registration":
        case.complete("talk")
    if step == "in_visits":
        case.complete("triage_review")
        case.complete("parent_contact")
    assert case.open_ids() or case.timers()
    events = case.send("withdraw", {"reason": "误报：学生只是咨询", "by": "college_officer:12"})
    assert events[-1].type == "process_completed"
    assert case.completed
    assert case.open_ids() == []
    assert case.timers() == {}
    facts = case.facts
    assert facts["outcome"] == "withdrawn"
    assert facts["withdraw_request"] == {"reason": "误报：学生只是咨询", "by": "college_officer:12"}
    # nothing deleted: the facts gathered so far are still there
    assert facts["category"] == "at_risk" and facts["risk_level"] == "yellow"


def test_victim_withdrawal_needs_lead_office_approval_and_case_goes_on(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.send("withdraw", {"reason": "学生称已追回", "by": "college_officer:12"})
    approval = case.task("withdrawal_approval")
    assert approval.lane == "牵头部门"
    assert approval.due_value == "PT24H"
    assert not case.completed
    # the case goes on meanwhile
    case.complete("talk")
    assert "psych_accept" in case.open_ids()
    events = case.complete("withdrawal_approval", approval="approve")
    assert events[-1].type == "process_completed"
    assert case.facts["outcome"] == "withdrawn"
    assert case.open_ids() == []


def test_victim_withdrawal_refused_notifies_officer_nothing_changes(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.send("withdraw", {"reason": "学生称已追回", "by": "college_officer:12"})
    events = case.complete("withdrawal_approval", approval="refuse", reason="损失属实，不得撤销")
    assert [(e.element_id, e.notify) for e in events if e.type == "escalation_raised"] == [
        ("wd_refused", ("college_officer",))]
    assert not case.completed
    assert case.facts["outcome"] is None
    assert case.open_ids() == ["talk", "triage_review"]


def test_withdrawal_approval_overdue_goes_to_leaders(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("talk")
    case.complete("triage_review")
    case.send("withdraw", {"reason": "误报", "by": "college_officer:12"})
    events = case.advance(25 * H)
    assert ("withdrawal_approval_escalate", ("leader",)) in [
        (e.element_id, e.notify) for e in events if e.type == "escalation_raised"]


# --------------------------------------------------------------------------- SPEC rules
def test_major_case_acknowledgement_and_notice_at_registration(open_case, sim):
    case = open_case(loss_cny="60000", last_transfer_at=iso(T0 - 72 * H))
    assert case.facts["flags"]["major"]
    assert ("mj_notice", ("lead_office", "leader")) in case.notices()
    ack = case.task("major_ack")
    assert ack.lane == "牵头部门"
    assert ack.due_value == "PT1H"
    events = case.advance(61 * timedelta(minutes=1))
    assert ("major_ack_escalate", ("leader",)) in [
        (e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    case.complete("major_ack")
    assert not case.facts["running"]["major"]


def test_minor_victim_is_major(open_case):
    case = open_case(student={"minor": True}, loss_cny="10",
                     last_transfer_at=iso(T0 - 72 * H))
    assert case.facts["flags"]["major"]
    assert "major_ack" in case.open_ids()


def test_ongoing_fraud_talk_due_in_30_minutes_and_escalation_targets(open_case):
    case = open_case(category="at_risk", discovery_source="police_notice",
                     fraud_type="romance_scam", ongoing="yes")
    assert case.facts["risk_level"] == "red"
    assert case.task("talk").due_value == "PT30M"
    events = case.advance(31 * timedelta(minutes=1))
    assert ("talk_escalate_red", RED_NOTIFY) in [
        (e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    assert "talk" in case.open_ids()


def test_review_overdue_goes_to_lead_office(open_case):
    case = open_case(category="involved", behaviour="goip")
    events = case.advance(25 * H)
    found = [(e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    assert ("triage_review_escalate", ("lead_office",)) in found
    assert ("talk_escalate", ("college_officer",)) in found


def test_downgrade_requested_in_review_approved(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    assert case.facts["risk_level"] == "orange"
    case.complete("triage_review", confirm_risk=False, new_risk_level="yellow",
                  override_reason="损失已全部追回")
    assert case.facts["risk_level"] == "orange"  # a request, not yet in effect
    approval = case.task("downgrade_approval")
    assert approval.lane == "牵头部门" and approval.due_value == "PT24H"
    case.complete("downgrade_approval", approval="approve")
    facts = case.facts
    assert facts["risk_level"] == "yellow"
    assert facts["risk_override"] == "yellow"
    assert facts["override_reason"] == "损失已全部追回"
    assert facts["downgraded"]


def test_downgrade_refused_nothing_changes(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("triage_review", confirm_risk=False, new_risk_level="yellow",
                  override_reason="损失已全部追回")
    events = case.complete("downgrade_approval", approval="refuse", reason="理由不充分")
    assert [(e.element_id, e.notify) for e in events if e.type == "escalation_raised"] == [
        ("dg_refused", ("college_officer",))]
    facts = case.facts
    assert facts["risk_level"] == "orange"
    assert facts["risk_override"] is None
    assert not facts["downgraded"]


def test_downgrade_message_from_correction_form_category_change(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.send("downgrade", {"category": "at_risk", "reason": "核实后并无损失",
                            "by": "college_officer:12"})
    case.complete("downgrade_approval", approval="approve")
    assert case.facts["category"] == "at_risk"
    assert case.facts["downgraded"]


def test_at_risk_downgrade_takes_effect_without_approval(open_case):
    case = open_case(category="at_risk", discovery_source="screening", fraud_type="fake_job",
                     ongoing="yes")
    assert case.facts["risk_level"] == "red"
    case.complete("triage_review", confirm_risk=False, new_risk_level="orange",
                  override_reason="已确认停止联系")
    assert "downgrade_approval" not in case.open_ids()
    assert case.facts["risk_level"] == "orange"
    assert case.facts["downgraded"]


def test_risk_never_lowered_by_re_triage(open_case, sim):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 2 * H))
    assert case.facts["risk_level"] == "red"
    sim.advance(30 * H)  # the transfer is now more than 24 h ago
    events = case.complete("talk")
    triage = [e for e in events if e.type == "decision_made"][0]
    assert triage.detail["outputs"]["case_facts"]["risk_level"] == "orange"  # the table's rating
    facts = case.facts
    assert facts["risk_rated"] == "orange"
    assert facts["risk_level"] == "red"


def test_officer_override_wins_until_new_facts_rate_higher(open_case, sim):
    case = open_case(category="involved", behaviour="social_account")
    assert case.facts["risk_level"] == "orange"
    case.complete("triage_review", confirm_risk=False, new_risk_level="red",
                  override_reason="涉及多名同学")
    assert case.facts["risk_level"] == "red" and case.facts["risk_override"] == "red"
    case.complete("talk")
    assert case.facts["risk_level"] == "red"

    lowered = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 2 * H))
    lowered.complete("triage_review", confirm_risk=False, new_risk_level="orange",
                     override_reason="已止付成功")
    lowered.complete("downgrade_approval", approval="approve")
    assert lowered.facts["risk_level"] == "orange"
    # the same facts (2 h after the transfer) still rate red: the officer's level stands
    lowered.complete("talk")
    assert lowered.facts["risk_rated"] == "red"
    assert lowered.facts["risk_level"] == "orange"
    # a new fact (a crisis sign) rates higher: safety first
    lowered.send("new_finding", {"crisis_sign": True, "source": "hotline"})
    assert lowered.facts["risk_level"] == "red"
    assert lowered.facts["risk_override"] is None


def test_review_correcting_at_risk_to_victim_re_runs_triage(open_case):
    case = open_case(category="at_risk", discovery_source="screening", fraud_type="fake_job")
    events = case.complete("triage_review", new_category="involved",
                           category_reason="核实为出租银行卡")
    assert ("decision_made", "nf_triage") in kinds(events, "decision_made")
    assert case.facts["category"] == "involved"
    assert case.facts["risk_level"] == "orange"
    assert case.facts["flags"]["need_discipline"]


def test_closure_waits_for_every_started_branch(open_case, sim):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("triage_review")
    case.complete("talk")
    case.advance(14 * D + S)
    case.complete("followup_visit")
    case.advance(case.timers()["wait_visit"] - sim.now + S)
    case.complete("followup_visit")
    # visits done, but police, psych, parents and the lesson still run
    assert "closure_review" not in case.open_ids()
    for spec in ("police_referral", "parent_contact", "class_lesson", "psych_accept"):
        case.complete(spec)
    assert "closure_review" not in case.open_ids()
    case.advance(2 * D)
    case.complete("counseling_session")
    case.complete("psych_summary")
    assert case.open_ids() == ["closure_review"]
    assert case.task("closure_review").due_value == "P7D"
