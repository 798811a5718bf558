"""Every path of fraud_case (issue 3's behaviours and SPEC.md's rules), engine-level.

Each step loads the stored state, acts and dumps it again (see conftest.CaseRun), with
simulated time; nothing sleeps and nothing touches a web app or a database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from caseflow.engine.runtime import due_from
from tests.workflows.conftest import RED_NOTIFY, T0, finish_psych, iso, kinds

S = timedelta(seconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def lanes_of(case) -> dict[str, str | None]:
    return {t.spec_id: t.lane for t in case.tasks()}


def dues_of(case) -> dict[str, str | None]:
    return {t.spec_id: t.due_value for t in case.tasks()}


# --------------------------------------------------------------------------- behaviour 1
def test_victim_recent_transfer_red_stop_payment_to_closure(open_case, sim):
    """Issue 3 #1: victim, money moved 2 h ago, 8,000 CNY lost, through to closure."""
    case = open_case(loss_cny="8000", last_transfer_at=iso(T0 - 2 * H), ongoing="no",
                     money_source="living_expenses")
    facts = case.facts
    assert facts["risk_level"] == "red"
    assert facts["loss_cny"] == "8000.00"
    assert facts["flags"] == {"major": False, "need_stop_payment": True, "need_police": True,
                              "need_psych": True, "need_parent_contact": True,
                              "need_discipline": False, "need_class_lesson": True}
    # at once: stop-payment (security office), talk and review in parallel
    assert lanes_of(case) == {"stop_payment": "保卫处", "talk": "辅导员",
                              "triage_review": "学院学工办"}
    assert dues_of(case) == {"stop_payment": "PT30M", "talk": "PT4H", "triage_review": "PT2H"}
    # the automatic steps at registration, in order
    assert kinds(case.history, "decision_made", "gateway_passed")[:4] == [
        ("decision_made", "triage_reg"), ("decision_made", "flags_reg"),
        ("gateway_passed", "dp_any"), ("gateway_passed", "dp_split")]
    decisions = [e for e in case.history if e.type == "decision_made"]
    assert decisions[0].detail["outputs"]["case_facts"]["risk_level"] == "red"
    assert "need_stop_payment" in decisions[1].detail["outputs"]["triage_flags"]

    # not done in 30 minutes: escalation to the lead office and leaders; the task stays open
    events = case.advance(31 * timedelta(minutes=1))
    assert kinds(events, "timer_fired", "escalation_raised") == [
        ("timer_fired", "stop_payment_overdue"),
        ("escalation_raised", "stop_payment_escalate")]
    assert case.notices() == [("stop_payment_escalate", ("lead_office", "leader"))]
    assert "stop_payment" in case.open_ids()
    case.complete("stop_payment")
    assert case.facts["stop_payment_result"] == "frozen"

    case.complete("triage_review")
    assert case.facts["counselor_id"] == 7
    case.complete("talk")
    # after the talk: police, psych, parent contact and the class lesson (due in 7 days)
    assert lanes_of(case) == {"police_referral": "保卫处", "psych_accept": "心理健康中心",
                              "parent_contact": "辅导员", "class_lesson": "辅导员"}
    dues = dues_of(case)
    assert dues["class_lesson"] == "P7D"
    assert dues["police_referral"] == "PT24H"
    assert dues["psych_accept"] == "PT2H"
    assert dues["parent_contact"] == "PT24H"
    assert case.facts["followups_planned"] == 4
    talk_done = sim.now

    for spec in ("police_referral", "parent_contact", "class_lesson"):
        case.complete(spec)
    finish_psych(case)
    assert not any(case.facts["running"].values())

    # 4 follow-up visits, 14 days apart (a timer between visits): each visit opens 14 days
    # after the talk or after the previous visit
    previous = talk_done
    for n in range(4):
        due = case.timers()["wait_visit"]
        assert due == previous + 14 * D
        case.advance(due - sim.now - S)
        assert "followup_visit" not in case.open_ids()
        case.advance(2 * S)
        assert case.task("followup_visit").due_value == "P14D"
        case.complete("followup_visit")
        previous = sim.now
        assert case.facts["followups_done"] == n + 1

    assert case.open_ids() == ["closure_review"]
    assert case.task("closure_review").lane == "学院学工办"
    events = case.complete("closure_review", closing_summary="止付成功，已追回5000元",
                           recovered_cny="5000")
    assert events[-1].type == "process_completed"
    assert case.completed
    facts = case.facts
    assert facts["outcome"] == "closed"
    assert facts["closing_summary"] == "止付成功，已追回5000元"
    assert facts["recovered_cny"] == "5000.00"


# --------------------------------------------------------------------------- behaviour 2
def test_involved_bank_card_police_handover_and_discipline(open_case, sim):
    """Issue 3 #2: involved (rented out a bank card), found by a police notice."""
    case = open_case(category="involved", behaviour="bank_card",
                     discovery_source="police_notice", what_happened="出租银行卡给他人使用")
    assert case.facts["risk_level"] == "orange"
    assert case.open_ids() == ["talk", "triage_review"]
    assert dues_of(case) == {"talk": "PT24H", "triage_review": "PT24H"}
    case.complete("talk", knowing="yes", involvement="出租银行卡", activity_stopped=True,
                  accounts_cancelled=True)
    assert case.facts["knowing"] == "yes"
    open_now = lanes_of(case)
    assert open_now["police_referral"] == "保卫处"
    assert open_now["discipline_decision"] == "学院学工办"
    assert "stop_payment" not in case.opened_ids()
    assert case.task("discipline_decision").due_value == "P14D"

    case.complete("police_referral", outcome="handed_over", handed_over=True,
                  handed_over_on=(sim.now + 8 * H).date().isoformat())
    assert case.facts["police_outcome"] == "handed_over"
    case.complete("discipline_decision", knowing="yes", level="serious_warning",
                  vetoes=["awards", "party", "cadre", "xuandiao"])
    assert case.facts["discipline"] == {"level": "serious_warning",
                                        "vetoes": ["awards", "cadre", "party", "xuandiao"]}
    assert not case.facts["running"]["discipline"]


def test_discipline_without_knowing_is_refused_by_form_and_process(open_case):
    """A sanction or veto requires knowing participation: the schema and the BPMN say so."""
    from marshmallow import ValidationError

    from workflows.fraud_case import FORMS

    with pytest.raises(ValidationError) as err:
        FORMS["discipline_decision"]().load({"knowing": "unclear", "level": "none",
                                             "vetoes": ["party"], "reason": "x"})
    assert "knowing" in err.value.messages
    FORMS["discipline_decision"]().load({"knowing": "no", "level": "none", "vetoes": [],
                                         "reason": "不知情"})

    case = open_case(category="involved", behaviour="phone_card")
    case.complete("talk", knowing="unclear")
    # data that skipped the form: the process refuses it and opens the decision again
    events = case.complete_raw("discipline_decision", {"knowing": "no", "level": "demerit",
                                                       "vetoes": [], "reason": "x"})
    assert ("gateway_passed", "dc_ok") in kinds(events, "gateway_passed")
    assert case.facts["discipline"] is None
    assert "discipline_decision" in case.open_ids()
    case.complete("discipline_decision", knowing="no", level="none", vetoes=[])
    assert case.facts["discipline"] == {"level": "none", "vetoes": []}


# --------------------------------------------------------------------------- behaviour 3
def test_at_risk_from_screening_yellow_short_path(open_case, sim):
    """Issue 3 #3: at-risk, found in screening, no loss: talk, parents, one visit, closure."""
    case = open_case(category="at_risk", discovery_source="screening", fraud_type="fake_job",
                     what_happened="参与网上兼职刷单群")
    assert case.facts["risk_level"] == "yellow"
    assert dues_of(case) == {"talk": "PT72H", "triage_review": "PT72H"}
    case.complete("triage_review")
    case.complete("talk")
    assert case.open_ids() == ["parent_contact"]
    assert case.task("parent_contact").due_value == "PT72H"
    case.complete("parent_contact")
    assert case.facts["followups_planned"] == 1
    case.advance(14 * D + S)
    case.complete("followup_visit")
    assert case.open_ids() == ["closure_review"]
    case.complete("closure_review")
    assert case.completed and case.facts["outcome"] == "closed"
    assert case.opened_ids() == {"talk", "triage_review", "parent_contact", "followup_visit",
                                 "closure_review"}
    flags = case.facts["flags"]
    assert not any(flags[f] for f in ("need_police", "need_psych", "need_discipline",
                                      "need_class_lesson", "need_stop_payment", "major"))


def test_registration_refuses_at_risk_with_a_loss():
    from marshmallow import ValidationError

    from workflows.fraud_case import MESSAGES_ZH, REGISTRATION

    with pytest.raises(ValidationError) as err:
        REGISTRATION().load({"student_id": 1, "discovery_source": "screening",
                             "category": "at_risk", "fraud_type": "fake_job",
                             "what_happened": "x", "loss_cny": "0.01"})
    assert err.value.messages["loss_cny"] == ["a loss makes the student a victim"]
    assert MESSAGES_ZH["a loss makes the student a victim"] == "有损失的学生应登记为受骗"


# --------------------------------------------------------------------------- behaviour 4
def test_psych_decline_then_re_referral_reaches_psych_centre_again(open_case):
    """Issue 3 #4: the psych centre declines; the officer re-refers; it reaches them again."""
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    assert case.facts["risk_level"] == "orange"
    case.complete("talk")
    assert case.task("psych_accept").lane == "心理健康中心"
    case.complete("psych_accept", accept="decline", decline_reason="本中心排期已满",
                  first_session_at=None)
    decision = case.task("psych_decline_decision")
    assert decision.lane == "学院学工办"
    assert decision.due_value == "PT24H"
    assert "psych_accept" not in case.open_ids()
    assert case.facts["psych_state"] == "declined"
    assert case.facts["running"]["psych"]
    case.complete("psych_decline_decision", decline_action="re_refer", reason="请再次接收")
    again = case.task("psych_accept")
    assert again.lane == "心理健康中心"
    assert again.due_value == "PT24H"
    assert case.facts["psych_referrals"] == 2
    finish_psych(case)
    assert case.facts["psych_state"] == "done"
    assert not case.facts["running"]["psych"]


def test_psych_decline_then_branch_closed_case_goes_on(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("talk")
    case.complete("psych_accept", accept="decline", decline_reason="学生拒绝",
                  first_session_at=None)
    case.complete("psych_decline_decision", decline_action="close_branch", reason="学生在校外就诊")
    assert case.facts["psych_state"] == "closed"
    assert not case.facts["running"]["psych"]
    assert "psych_accept" not in case.open_ids()
    assert not case.completed


# --------------------------------------------------------------------------- behaviour 5
def test_crisis_in_the_talk_urgent_psych_referral_and_leaders_notified(open_case):
    """Issue 3 #5: a crisis indicator in the talk, whatever the triage said (yellow)."""
    case = open_case(category="at_risk", discovery_source="screening", fraud_type="online_loan")
    assert case.facts["risk_level"] == "yellow"
    events = case.complete("talk", crisis_indicated=True, mood="distressed")
    notices = [(e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    assert ("dp_crisis", ("lead_office", "leader")) in notices
    assert ("mj_notice", ("lead_office", "leader")) in notices
    referral = case.task("psych_accept")
    assert referral.due_value == "PT1H"
    assert referral.lane == "心理健康中心"
    facts = case.facts
    assert facts["risk_level"] == "red"
    assert facts["flags"]["major"] and facts["flags"]["need_psych"]
    assert case.task("major_ack").due_value == "PT1H"


def test_crisis_at_registration_starts_referral_before_the_talk(open_case):
    case = open_case(category="victim", loss_cny="100", last_transfer_at=iso(T0 - 48 * H),
                     risk_signs=["suicidal_thoughts"])
    assert case.facts["crisis_sign"]
    assert case.task("psych_accept").due_value == "PT1H"
    assert "talk" in case.open_ids()
    assert ("dp_crisis", ("lead_office", "leader")) in case.notices()
    # the talk completes: psych is already running, it does not start twice
    case.complete("talk")
    assert len([t for t in case.tasks() if t.spec_id == "psych_accept"]) == 1
    assert case.facts["psych_referrals"] == 1


def test_crisis_shortens_an_open_referral_to_one_hour(open_case, sim):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("talk")
    first = case.task("psych_accept")
    assert first.due_value == "PT24H"
    events = case.send("new_finding", {"risk_signs": ["self_harm_talk"], "source": "hotline"})
    assert ("dp_crisis", ("lead_office", "leader")) in [
        (e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    urgent = case.task("psych_accept")
    assert urgent.id != first.id
    assert urgent.due_value == "PT1H"
    assert case.timers()["psych_accept_overdue"] == sim.now + H


def test_crisis_in_a_visit_reopens_a_finished_referral(open_case, sim):
    """SPEC step 5: a finished referral is opened again, due in 1 h."""
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("triage_review")
    case.complete("talk")
    for spec in ("police_referral", "parent_contact", "class_lesson"):
        case.complete(spec)
    finish_psych(case)
    assert case.facts["psych_state"] == "done"
    case.advance(case.timers()["wait_visit"] - sim.now + S)
    events = case.complete("followup_visit", crisis_indicated=True, student_state="deteriorating")
    assert ("dp_crisis", ("lead_office", "leader")) in [
        (e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    assert case.task("psych_accept").due_value == "PT1H"
    assert case.facts["psych_referrals"] == 2
    assert case.facts["risk_level"] == "red"


def test_crisis_assessed_in_a_session_notifies_and_counseling_goes_on(open_case, sim):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("talk")
    case.complete("psych_accept")
    case.advance(2 * D)
    next_at = sim.now + 3 * D
    events = case.complete("counseling_session", risk_assessment="crisis", more_sessions=True,
                           next_session_at=iso(next_at))
    assert ("dp_crisis", ("lead_office", "leader")) in [
        (e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    session = case.task("counseling_session")
    assert due_from(session.due_value, sim.now) == next_at
    assert "psych_accept" not in case.open_ids()
    assert case.facts["last_risk_assessment"] == "crisis"
    assert case.facts["risk_level"] == "red"
    # the confidential notes never entered the workflow state
    assert "保密的咨询记录" not in case.state


def test_crisis_elsewhere_brings_the_next_session_forward(open_case, sim):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("talk")
    case.complete("psych_accept", first_session_at=iso(sim.now + 5 * D))
    case.send("new_finding", {"crisis_sign": True, "source": "class_informant"})
    session = case.task("counseling_session")
    assert due_from(session.due_value, sim.now) == sim.now + H


# --------------------------------------------------------------------------- behaviour 6
def test_parent_unreachable_three_times_escalates_to_college_officer(open_case, sim):
    """Issue 3 #6: three failed attempts, each next one due 24 h after a failure."""
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("triage_review")
    case.complete("talk")
    assert case.task("parent_contact").due_value == "PT48H"
    for attempt in range(1, 4):
        events = case.complete("parent_contact", reached=False, not_reached_reason="电话无人接听")
        if attempt < 3:
            nxt = case.task("parent_contact")
            assert nxt.due_value == "PT24H"
            assert case.timers()["parent_contact_overdue"] == sim.now + 24 * H
            assert not [e for e in events if e.type == "escalation_raised"]
            case.sim.advance(24 * H)
    assert [(e.element_id, e.notify) for e in events if e.type == "escalation_raised"] == [
        ("pc_failed", ("college_officer",))]
    assert "parent_contact" not in case.open_ids()
    assert not case.facts["running"]["parent_contact"]
    assert case.facts["parent_reached"] is False


def test_overdue_parent_attempt_escalates_to_officer_and_lead_office_when_red(open_case):
    case = open_case(loss_cny="20000", last_transfer_at=iso(T0 - 72 * H))
    assert case.facts["risk_level"] == "red"
    case.complete("talk")
    events = case.advance(25 * H)
    assert ("parent_contact_escalate_red", RED_NOTIFY) in [
        (e.element_id, e.notify) for e in events if e.type == "escalation_raised"]
    assert "parent_contact" in case.open_ids()


# --------------------------------------------------------------------------- behaviour 7
def test_closure_sent_back_means_one_more_visit_then_closure_again(open_case, sim):
    """Issue 3 #7."""
    case = open_case(category="at_risk", discovery_source="screening", fraud_type="fake_job")
    case.complete("triage_review")
    case.complete("talk")
    case.complete("parent_contact")
    case.advance(14 * D + S)
    case.complete("followup_visit")
    events = case.complete("closure_review", closure_decision="send_back",
                           send_back_reason="仍与可疑人员联系", closing_summary=None)
    assert ("gateway_passed", "closure_approved") in kinds(events, "gateway_passed")
    assert case.open_ids() == []
    assert case.facts["followups_planned"] == 2
    assert case.timers()["wait_visit"] == sim.now + 14 * D
    case.advance(14 * D + S)
    case.complete("followup_visit")
    assert case.open_ids() == ["closure_review"]
    case.complete("closure_review")
    assert case.completed
    assert case.facts["outcome"] == "closed"
    assert case.facts["followups_done"] == 2


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


# --------------------------------------------------------------------------- behaviour 9
def test_second_finding_is_attached_adds_losses_and_starts_stop_payment_mid_case(
        open_case, sim):
    """Issue 3 #9 at engine level: the finding goes to the open instance, not a new one."""
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("talk")
    case.complete("police_referral")
    running_psych = case.task("psych_accept").id
    sim.advance(2 * H)
    events = case.send("new_finding", {
        "category": "victim", "loss_cny": "12000.50",
        "last_transfer_at": iso(sim.now - 30 * timedelta(minutes=1)), "source": "hotline"})
    assert kinds(events, "decision_made")[:2] == [("decision_made", "nf_triage"),
                                                  ("decision_made", "nf_flags")]
    facts = case.facts
    assert facts["findings"] == 1
    assert facts["loss_cny"] == "15000.50"
    assert facts["last_transfer_at"] == iso(sim.now - 30 * timedelta(minutes=1))
    assert facts["risk_level"] == "red"
    assert facts["flags"]["need_stop_payment"]
    # stop-payment opens at once, mid-case
    assert case.task("stop_payment").due_value == "PT30M"
    # running or done branches are not started twice
    assert [t.id for t in case.tasks() if t.spec_id == "psych_accept"] == [running_psych]
    assert "police_referral" not in case.open_ids()
    assert facts["started"]["police"] and not facts["running"]["police"]
    # a third finding with yet another transfer does not start stop-payment again
    case.complete("stop_payment")
    case.send("new_finding", {"loss_cny": "100", "last_transfer_at": iso(sim.now),
                              "source": "hotline"})
    assert "stop_payment" not in case.open_ids()
    assert case.facts["loss_cny"] == "15100.50"


def test_finding_moves_at_risk_to_victim_and_waits_for_the_talk(open_case):
    case = open_case(category="at_risk", discovery_source="screening", fraud_type="fake_job")
    case.send("new_finding", {"category": "victim", "loss_cny": "2000",
                              "last_transfer_at": iso(T0 - 48 * H), "source": "self_report"})
    facts = case.facts
    assert facts["category"] == "victim"
    assert facts["risk_level"] == "orange"
    assert facts["flags"]["need_police"]
    # branches that need the talk wait for it
    assert case.open_ids() == ["talk", "triage_review"]
    case.complete("talk")
    assert {"police_referral", "psych_accept", "parent_contact", "class_lesson"} <= set(
        case.open_ids())


# --------------------------------------------------------------------------- behaviour 10
def test_history_holds_every_human_step_and_automatic_decision_in_order(open_case, sim):
    """Issue 3 #10 (engine side): human steps, DMN outputs, gateways and timers, in order."""
    case = open_case(loss_cny="8000", last_transfer_at=iso(T0 - 2 * H))
    case.advance(31 * timedelta(minutes=1))
    case.complete("stop_payment")
    case.complete("talk")
    seq = [(e.type, e.element) for e in case.history
           if e.type in ("case_registered", "task_completed", "decision_made",
                         "gateway_passed", "timer_fired", "escalation_raised")]
    assert seq[:5] == [("case_registered", "fraud_case"), ("decision_made", "triage_reg"),
                       ("decision_made", "flags_reg"), ("gateway_passed", "dp_any"),
                       ("gateway_passed", "dp_split")]
    i_timer = seq.index(("timer_fired", "stop_payment_overdue"))
    assert seq[i_timer + 1] == ("escalation_raised", "stop_payment_escalate")
    assert seq.index(("task_completed", "stop_payment")) > i_timer
    i_talk = seq.index(("task_completed", "talk"))
    assert seq[i_talk + 1:i_talk + 5] == [("decision_made", "triage_talk"),
                                          ("decision_made", "flags_talk"),
                                          ("gateway_passed", "dp_any"),
                                          ("gateway_passed", "dp_split")]
    split = [e for e in case.history if e.element == "dp_split"][-1]
    assert set(split.detail["taken"]) == {"dp_parent_contact", "dp_psych", "dp_police",
                                          "dp_class_lesson"}
    decided = [e for e in case.history if e.type == "decision_made"]
    assert all(e.detail["outputs"] for e in decided)


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


# --------------------------------------------------------------------------- the model
def test_model_passes_the_deploy_checks_and_lanes_map_to_roles(process):
    from lxml import etree

    from caseflow.engine.parsing import check_files
    from tests.workflows.conftest import BPMN_FILE, DMN_FILES
    from workflows.fraud_case import LANES

    files = {p.name: p.read_bytes() for p in [BPMN_FILE, *DMN_FILES]}
    reports = check_files(files)
    assert [(r.file, r.problems) for r in reports if not r.ok] == []

    root = etree.parse(str(BPMN_FILE)).getroot()
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    proc = root.find("bpmn:process", ns)
    assert proc.get("id") == "fraud_case" and proc.get("name") == "涉诈学生个案处置"
    assert proc.get("isExecutable") == "true"
    lanes = {lane.get("id"): lane.get("name") for lane in proc.iterfind(".//bpmn:lane", ns)}
    assert lanes == {"Counselor": "辅导员", "CollegeOfficer": "学院学工办",
                     "PsychCenter": "心理健康中心", "SecurityOffice": "保卫处",
                     "LeadOffice": "牵头部门"}
    assert set(lanes.values()) == set(LANES)
    # every flow node of the process is in exactly one lane (nested ones in their
    # sub-process's lane, which SpiffWorkflow hands down to them)
    refs = [r.text for r in proc.iterfind(".//bpmn:flowNodeRef", ns)]
    assert len(refs) == len(set(refs))
    flow_nodes = [el.get("id") for el in proc if etree.QName(el).localname not in (
        "laneSet", "sequenceFlow", "dataObject", "dataObjectReference")]
    assert sorted(refs) == sorted(flow_nodes)
    # every element has a shape or an edge, every shape a name in Chinese where it has one
    drawn = {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNShape", ns)}
    drawn |= {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNEdge", ns)}
    ids = {el.get("id") for el in proc.iter() if el.get("id")
           and etree.QName(el).localname not in ("laneSet", "dataObject", "property",
                                                  "timerEventDefinition",
                                                  "messageEventDefinition",
                                                  "signalEventDefinition",
                                                  "terminateEventDefinition")}
    assert ids - drawn == {"fraud_case"}  # the process is drawn as its participant (pool)
    specs = [process.spec, *process.subprocess_specs.values()]
    task_lanes = {t.lane for s in specs for t in s.task_specs.values()
                  if getattr(t, "bpmn_id", None)}
    assert task_lanes <= set(LANES)


def test_every_human_task_has_a_form_a_lane_and_a_due_property(process):
    from caseflow.settings_defaults import DUE_TIMES
    from workflows.fraud_case import FORMS, LANES, TASK_KEYS

    specs = [process.spec, *process.subprocess_specs.values()]
    human = {t.bpmn_id: t for s in specs for t in s.task_specs.values() if t.manual}
    assert set(human) == set(FORMS)
    for spec_id, spec in human.items():
        assert spec.lane in LANES, spec_id
        props = spec.extensions.get("properties", {})
        assert props.get("due"), f"{spec_id} has no due property"
        assert spec.bpmn_name and not spec.bpmn_name.isascii(), spec_id
    assert set(TASK_KEYS) == set(FORMS) - {"counseling_session"}
    assert set(TASK_KEYS.values()) <= set(DUE_TIMES)


def test_every_task_opens_with_a_due_time_and_every_timer_evaluates(open_case, sim):
    """A tour that opens every human task once: each due value parses, each timer waits."""
    from lxml import etree

    from tests.workflows.conftest import BPMN_FILE
    from workflows.fraud_case import FORMS

    a = open_case(loss_cny="60000", last_transfer_at=iso(T0 - 2 * H))
    a.complete("triage_review", confirm_risk=False, new_risk_level="orange",
               override_reason="已止付")
    a.complete("downgrade_approval", approval="refuse", reason="不同意")
    a.send("withdraw", {"reason": "误报", "by": "college_officer:1"})
    a.complete("withdrawal_approval", approval="refuse", reason="不同意")
    for spec in ("major_ack", "stop_payment", "talk", "police_referral", "parent_contact",
                 "class_lesson"):
        a.complete(spec)
    a.complete("psych_accept", accept="decline", decline_reason="满", first_session_at=None)
    a.complete("psych_decline_decision", decline_action="re_refer", reason="再转")
    a.complete("psych_accept")
    a.advance(2 * D)
    a.complete("counseling_session", more_sessions=True,
               next_session_at=iso(sim.now + 7 * D))
    a.advance(7 * D)
    a.complete("counseling_session")
    a.complete("psych_summary")
    a.advance(a.timers()["wait_visit"] - sim.now + S)
    a.complete("followup_visit")
    b = open_case(category="involved", behaviour="payment_account")
    b.complete("talk", knowing="yes")
    c = open_case(category="at_risk", discovery_source="screening", fraud_type="fake_job")
    for spec in ("triage_review", "talk", "parent_contact"):
        c.complete(spec)
    c.advance(14 * D + S)
    c.complete("followup_visit")

    opened = a.opened + b.opened + c.opened
    assert {spec for spec, _, _ in opened} == set(FORMS)
    for spec, lane, due in opened:
        assert due and due_from(due, sim.now) is not None, spec
        assert lane, spec
    root = etree.parse(str(BPMN_FILE)).getroot()
    timers = {el.getparent().get("id") for el in root.iter(
        "{http://www.omg.org/spec/BPMN/20100524/MODEL}timerEventDefinition")}
    assert timers - (a.timer_ids | b.timer_ids | c.timer_ids) == set()


# --------------------------------------------------------------------------- the forms
def test_forms_carry_bilingual_labels_widgets_and_lookups():
    from marshmallow import fields as mf
    from marshmallow import validate

    from workflows.fraud_case import FORMS, LOOKUPS, REGISTRATION

    widgets = {"text", "textarea", "select", "radio", "checkboxes", "datetime", "date",
               "money", "number", "boolean"}
    confidential = []
    for name, schema_cls in [*FORMS.items(), ("registration", REGISTRATION)]:
        schema = schema_cls()
        for field_name, f in schema.fields.items():
            meta = f.metadata
            where = f"{name}.{field_name}"
            assert meta["label"]["zh"] and meta["label"]["en"], where
            assert not meta["label"]["zh"].isascii(), where
            if "help" in meta:
                assert meta["help"]["zh"] and meta["help"]["en"], where
            assert meta.get("widget") in widgets, where
            if meta.get("lookup"):
                assert meta["lookup"] in LOOKUPS, where
                inner = f.inner if isinstance(f, mf.List) else f
                assert not any(isinstance(v, validate.OneOf) for v in inner.validators), where
            for v in (f.inner if isinstance(f, mf.List) else f).validators:
                if isinstance(v, validate.OneOf):
                    labels = meta.get("choices") or {}
                    assert set(labels) == set(v.choices), where
                    assert all(lb["zh"] and lb["en"] for lb in labels.values()), where
            if isinstance(f, mf.Decimal):
                assert f.as_string and meta["widget"] == "money", where
            if isinstance(f, mf.String) and meta["widget"] in ("text", "textarea") \
                    and not meta.get("lookup"):
                assert any(isinstance(v, validate.Length) and v.max for v in f.validators), where
            if meta.get("confidential"):
                confidential.append(where)
    assert confidential == ["counseling_session.notes"]


def test_lookups_are_seed_data_with_stable_codes():
    import re

    from workflows.fraud_case import CRISIS_SIGNS, LOOKUPS

    assert set(LOOKUPS) == {"fraud_type", "discovery_source", "behaviour", "risk_sign",
                            "money_source"}
    for kind, items in LOOKUPS.items():
        codes = [i["code"] for i in items]
        assert len(codes) == len(set(codes)), kind
        for item in items:
            assert set(item) == {"code", "zh", "en", "crisis"}
            assert re.fullmatch(r"[a-z][a-z0-9_]*", item["code"])
            assert item["crisis"] is False or kind == "risk_sign"
    assert len(LOOKUPS["fraud_type"]) == 13
    assert {"living_expenses", "tuition", "online_loan", "borrowed", "parents", "other"} == {
        i["code"] for i in LOOKUPS["money_source"]}
    assert {"self_harm_talk", "suicidal_thoughts", "severe_distress"} <= CRISIS_SIGNS
    signs = {i["code"]: i["crisis"] for i in LOOKUPS["risk_sign"]}
    assert signs["large_debts"] is signs["repeated_victim"] is signs["public_opinion"] is False


def test_forms_refuse_future_times_negative_money_and_long_text(sim):
    from marshmallow import ValidationError

    from tests.workflows.conftest import form_defaults
    from workflows.fraud_case import FORMS, REGISTRATION

    talk = form_defaults("talk", sim.now)
    with pytest.raises(ValidationError) as err:
        FORMS["talk"]().load({**talk, "talked_at": iso(sim.now + 2 * H)})
    assert err.value.messages["talked_at"] == ["must not be in the future"]
    with pytest.raises(ValidationError) as err:
        FORMS["talk"]().load({**talk, "reached_how": "telepathy", "place": "x" * 201})
    assert set(err.value.messages) == {"reached_how", "place"}
    stop = form_defaults("stop_payment", sim.now)
    with pytest.raises(ValidationError) as err:
        FORMS["stop_payment"]().load({**stop, "amount_cny": "-1"})
    assert "amount_cny" in err.value.messages
    assert FORMS["stop_payment"]().dump(FORMS["stop_payment"]().load(stop))["amount_cny"] \
        == "8000.00"
    with pytest.raises(ValidationError) as err:
        FORMS["counseling_session"]().load({"session_at": iso(sim.now),
                                            "risk_assessment": "high", "more_sessions": True})
    assert "next_session_at" in err.value.messages
    with pytest.raises(ValidationError) as err:
        REGISTRATION().load({"student_id": 1, "discovery_source": "hotline",
                             "category": "involved", "what_happened": "x"})
    assert err.value.messages == {"behaviour": ["give the behaviour"]}


def test_registration_dump_carries_every_start_key(sim):
    from tests.workflows.conftest import registration
    from workflows.fraud_case import START_KEYS

    data = registration(sim, category="at_risk", fraud_type="fake_job",
                        risk_signs=["suicidal_thoughts", "public_opinion"])
    assert set(START_KEYS) <= set(data)
    assert data["crisis_sign"] is True and data["public_opinion_risk"] is True
    assert data["loss_cny"] == "0.00" and data["ongoing"] == "unknown"


def test_case_facts_keys_are_documented():
    from workflows.fraud_case import CASE_FACTS_KEYS, init_case_facts

    assert set(init_case_facts({})) == set(CASE_FACTS_KEYS)
    required = {"category", "fraud_type", "behaviour", "loss_cny", "recovered_cny",
                "last_transfer_at", "hours_since_transfer", "ongoing", "crisis_sign",
                "repeated_victim", "psych_watch", "hardship", "public_opinion_risk", "minor",
                "risk_level", "risk_override", "override_reason", "flags", "started",
                "counselor_id", "outcome", "downgraded", "followups_planned",
                "followups_done", "closing_summary"}
    assert required <= set(CASE_FACTS_KEYS)


def test_script_helpers_keep_money_as_decimal_strings_and_return_new_dicts():
    from workflows.fraud_case import (
        FUNCTIONS,
        add_duration,
        apply_triage,
        init_case_facts,
        merge_finding,
        money,
        money_add,
    )

    assert money("8000") == "8000.00" and money(None) == "0.00" and money("-5") == "0.00"
    assert money_add("0.10", "0.20") == "0.30"
    assert money_add("9999.99", "0.01") == "10000.00"
    assert add_duration("2026-03-02T01:00:00+00:00", "PT1H") == "2026-03-02T02:00:00+00:00"
    facts = init_case_facts({"category": "victim", "loss_cny": "100"})
    merged = merge_finding(facts, {"loss_cny": "0.5", "last_transfer_at": "2026-03-01T00:00:00"})
    assert merged is not facts and facts["loss_cny"] == "100.00"
    assert merged["loss_cny"] == "100.50"
    assert merged["last_transfer_at"] == "2026-03-01T00:00:00+00:00"
    rated = apply_triage({**merged, "risk_level": "orange", "risk_prev": "red"}, ["major"])
    assert rated["risk_level"] == "red" and rated["flags"]["major"]
    assert all(callable(f) for f in FUNCTIONS.values())


def test_crisis_while_the_officer_decides_after_a_decline_refers_again_at_once(open_case):
    case = open_case(loss_cny="3000", last_transfer_at=iso(T0 - 72 * H))
    case.complete("talk")
    case.complete("psych_accept", accept="decline", decline_reason="排期已满",
                  first_session_at=None)
    assert "psych_decline_decision" in case.open_ids()
    case.send("new_finding", {"risk_signs": ["suicidal_thoughts"], "source": "parent_report"})
    assert "psych_decline_decision" not in case.open_ids()
    referral = case.task("psych_accept")
    assert referral.due_value == "PT1H"
    facts = case.facts
    assert facts["psych_state"] == "referred" and facts["psych_referrals"] == 2
    assert facts["running"]["psych"]
