"""The main paths of fraud_case, engine-level: issue 3's behaviours 1-3 (victim, involved,
at risk), 6 (parents unreachable), 7 (closure sent back), 9 (a second finding) and 10 (the
history).

Each step loads the stored state, acts and dumps it again (see conftest.CaseRun), with
simulated time; nothing sleeps and nothing touches a web app or a database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.workflows.conftest import RED_NOTIFY, T0, D, H, S, finish_psych, iso, kinds


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
