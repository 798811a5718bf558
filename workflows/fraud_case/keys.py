"""The names of the fraud_case process: lanes, levels, flags, branches, keys, messages."""

from __future__ import annotations

from workflows import common

PROCESS_ID = "fraud_case"

# Lane name (as drawn) -> caseflow role; lead_office is resolved to the school's setting.
LANES: dict[str, str] = {
    "辅导员": "counselor",
    "学院学工办": "college_officer",
    "心理健康中心": "psych_center",
    "保卫处": "security_office",
    "牵头部门": "lead_office",
}

RISK_LEVELS = ("red", "orange", "yellow")
RANK = {"yellow": 0, "orange": 1, "red": 2}
CATEGORIES = ("victim", "involved", "at_risk")
COUNTED = ("victim", "involved")  # categories that count as 发案
FLAGS = ("major", "need_stop_payment", "need_police", "need_psych", "need_parent_contact",
         "need_discipline", "need_class_lesson")
# Branch -> the flag that starts it; branches marked in NEEDS_TALK wait for the talk.
BRANCHES: dict[str, str] = {
    "major": "major",
    "stop_payment": "need_stop_payment",
    "parent_contact": "need_parent_contact",
    "psych": "need_psych",
    "police": "need_police",
    "discipline": "need_discipline",
    "class_lesson": "need_class_lesson",
}
NEEDS_TALK = frozenset({"parent_contact", "psych", "police", "discipline", "class_lesson"})

# The keys the start data (registration facts + what the app knows of the student) must
# carry; the registration script reads each by name, so a missing key stops the process.
# The app sends REGISTRATION().dump(...) (every field, None/defaults where not given) plus
# psych_watch, hardship, minor (under 18) and repeated_victim (ticked, or an earlier victim
# case of the student that was not withdrawn).
START_KEYS: tuple[str, ...] = (
    "category", "fraud_type", "behaviour", "loss_cny", "money_source", "last_transfer_at",
    "ongoing", "risk_signs", "crisis_sign", "public_opinion_risk", "repeated_victim",
    "psych_watch", "hardship", "minor", "happened_at", "discovered_at",
)

# Messages the process accepts (name -> payload keys).
MESSAGES: dict[str, tuple[str, ...]] = {
    "new_finding": ("category", "fraud_type", "behaviour", "loss_cny", "money_source",
                    "last_transfer_at", "ongoing", "risk_signs", "crisis_sign",
                    "public_opinion_risk", "repeated_victim", "happened_at", "source"),
    "withdraw": ("reason", "by"),
    "downgrade": ("risk_level", "category", "reason", "by"),
}

# The keys of the case_facts data object (the app mirrors some to the case row).
CASE_FACTS_KEYS: tuple[str, ...] = (
    "category", "fraud_type", "behaviour", "loss_cny", "recovered_cny", "money_source",
    "last_transfer_at", "hours_since_transfer", "ongoing", "crisis_sign", "crisis_events",
    "crisis_pending", "crisis_source", "repeated_victim", "psych_watch", "hardship",
    "public_opinion_risk", "minor", "happened_at", "discovered_at", "risk_level", "risk_prev",
    "risk_rated", "risk_override", "override_reason", "override_facts", "flags", "started",
    "running", "talk_done", "knowing", "counselor_id", "plan", "psych_state", "psych_crisis",
    "psych_referrals", "sessions_held", "last_risk_assessment", "psych_status",
    "stop_payment_result", "police_outcome", "discipline", "parent_reached",
    "followups_planned", "followups_done", "findings", "downgraded", "withdraw_request",
    "outcome", "closing_summary", "lessons", "closed_at",
)

# User task id -> the due-time setting key (caseflow.settings_defaults.DUE_TIMES) it uses.
# talk: `talk_ongoing` instead when the fraud is still going on; parent_contact:
# `parent_retry` for the 2nd and 3rd attempt; psych_accept: `psych_accept_crisis` for a
# crisis referral. counseling_session has no setting: it is due at the date the psych
# centre set (next_session_at / first_session_at).
TASK_KEYS: dict[str, str] = {
    "major_ack": "major_ack",
    "stop_payment": "stop_payment",
    "triage_review": "triage_review",
    "talk": "talk",
    "parent_contact": "parent_contact",
    "psych_accept": "psych_accept",
    "psych_decline_decision": "psych_decline_decision",
    "psych_summary": "psych_summary",
    "police_referral": "police_referral",
    "discipline_decision": "discipline",
    "class_lesson": "class_lesson",
    "followup_visit": "followup_interval",
    "closure_review": "closure_review",
    "withdrawal_approval": "withdrawal_approval",
    "downgrade_approval": "withdrawal_approval",
}

# Chinese versions of the validation messages below (the form shows the user's language).
MESSAGES_ZH: dict[str, str] = {
    **common.MESSAGES_ZH,
    "a loss makes the student a victim": "有损失的学生应登记为受骗",
    "give the fraud type": "请选择诈骗类型",
    "give the behaviour": "请选择涉诈行为",
    "give the reason": "请填写理由",
    "give the new risk level": "请选择调整后的风险等级",
    "give the date of the next session": "请填写下次咨询时间",
    "give the date of the first session": "请填写首次咨询时间",
    "a sanction or veto needs knowing participation": "处分或一票否决须以主观故意为前提",
    "give the closing summary": "请填写结案小结",
    "give when it was reported": "请填写报案时间",
}
