"""fraud_case's psychological counseling and crises, engine-level: issue 3's behaviours 4
(a declined referral) and 5 (a crisis, wherever it is seen).

Each step loads the stored state, acts and dumps it again (see conftest.CaseRun), with
simulated time; nothing sleeps and nothing touches a web app or a database.
"""

from __future__ import annotations

from caseflow.engine.runtime import due_from
from tests.workflows.conftest import T0, D, H, S, finish_psych, iso


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
