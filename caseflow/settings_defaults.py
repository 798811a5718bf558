"""Defaults of the school settings (SPEC.md "Due times" and the other thresholds).

Every deadline and threshold is a setting: code and BPMN read them through
`due_time(key, level)` and `setting(key)`, never as constants.
"""

from __future__ import annotations

from typing import Any

RISK_LEVELS = ("red", "orange", "yellow")


def _same(value: str) -> dict[str, str]:
    return {level: value for level in RISK_LEVELS}


# Due times: ISO 8601 durations per risk level (SPEC.md table "Due times").
DUE_TIMES: dict[str, dict[str, str]] = {
    "major_ack": _same("PT1H"),
    "stop_payment": _same("PT30M"),
    "triage_review": {"red": "PT2H", "orange": "PT24H", "yellow": "PT72H"},
    "talk": {"red": "PT4H", "orange": "PT24H", "yellow": "PT72H"},
    "talk_ongoing": _same("PT30M"),
    "parent_contact": {"red": "PT24H", "orange": "PT48H", "yellow": "PT72H"},
    "parent_retry": _same("PT24H"),
    "psych_accept": {"red": "PT2H", "orange": "PT24H", "yellow": "PT24H"},
    "psych_accept_crisis": _same("PT1H"),
    "psych_decline_decision": _same("PT24H"),
    "psych_summary": _same("P7D"),
    "police_referral": _same("PT24H"),
    "discipline": _same("P14D"),
    "class_lesson": _same("P7D"),
    "followup_interval": _same("P14D"),
    "closure_review": _same("P7D"),
    "withdrawal_approval": _same("PT24H"),
    "warning_reach": _same("PT30M"),
    "warning_leaders": _same("PT2H"),
    "police_feedback": _same("PT24H"),
    "screening_round": _same("P7D"),
    "screening_review": _same("P3D"),
}

# Other settings with their defaults.
OTHER: dict[str, Any] = {
    "lead_office": "student_affairs",
    "parent_contact_attempts": 3,
    "followup_visits": {"red": 4, "orange": 2, "yellow": 1},
    "screening_cycle": "P14D",
    "case_counts_by": "happened",
    "month_cutoff_day": 0,
    "session_idle_timeout": "PT30M",
    "session_absolute_timeout": "PT12H",
}


def default_due_time(key: str, level: str | None = None) -> str:
    """Return the default ISO 8601 due duration of task `key` at risk `level`."""
    table = DUE_TIMES[key]
    return table[level or "yellow"]
