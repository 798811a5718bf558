"""Defaults and descriptions of the school settings (SPEC.md "Due times" and the others).

Every deadline and threshold is a setting: code and BPMN read them through
`due_time(key, level)` and `setting(key)`, never as constants. This module is plain
data (no database, no Flask) so the engine can read the defaults on its own;
`caseflow.settings` adds the types, validation and display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    "term_start_dates": [],
    "academic_year_start_month": 9,
    "fraud_free_window": "academic_year",
    "fraud_free_min_app_signup_pct": 0,
    "session_idle_timeout": "PT30M",
    "session_absolute_timeout": "PT12H",
}


def default_due_time(key: str, level: str | None = None) -> str:
    """Return the default ISO 8601 due duration of task `key` at risk `level`."""
    table = DUE_TIMES[key]
    return table[level or "yellow"]


def default_value(key: str) -> Any:
    """Return the default of setting `key` ('due.<task>' or another key)."""
    if key.startswith("due."):
        return DUE_TIMES[key[4:]]
    return OTHER[key]


# -- descriptions ----------------------------------------------------------------------

GROUPS: dict[str, tuple[str, str]] = {  # group -> (Chinese, English), in screen order
    "due": ("个案处置时限", "Case due times"),
    "warnings": ("预警劝阻", "Police warnings"),
    "screening": ("隐患摸排", "Screening rounds"),
    "triage": ("分级处置阈值", "Triage thresholds"),
    "lead_office": ("牵头部门", "Lead office"),
    "periods": ("统计周期", "Periods"),
    "fraud_free": ("无诈创建标准", "Fraud-free criteria"),
    "sessions": ("登录会话", "Sessions"),
}

LEAD_OFFICE_NOTE = (
    "已分派的待办任务仍留在原处理部门；只有此后新开的任务和新发的通知交给新的牵头部门。",
    "Open tasks already assigned stay where they are; only new tasks and new "
    "notifications go to the new lead office.",
)


@dataclass(frozen=True)
class Entry:
    """One setting: where it is shown, its type, and what it means (Chinese, English)."""

    key: str
    group: str
    kind: str  # a name in caseflow.settings.KINDS
    label: tuple[str, str]
    meaning: tuple[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    note: tuple[str, str] | None = None  # said before and after a change

    @property
    def default(self) -> Any:
        """Return the default value."""
        return default_value(self.key)


def _due(key: str, kind: str, zh: str, en: str, mzh: str, men: str,
         group: str = "due") -> Entry:
    return Entry(f"due.{key}", group, kind, (zh, en), (mzh, men))


CATALOGUE: tuple[Entry, ...] = (
    _due("major_ack", "due_levels", "重大案件确认（牵头部门）",
         "Major-case acknowledgement (lead office)",
         "牵头部门确认收到重大案件报告的时限，逾期上报领导小组。",
         "Time for the lead office to acknowledge a major case; overdue goes to the "
         "leaders."),
    _due("stop_payment", "due_levels", "紧急止付联络", "Emergency stop-payment liaison",
         "保卫处完成紧急止付联络的时限；逾期上报牵头部门和领导小组，任务保留。",
         "Time for the security office to do the stop-payment liaison; overdue escalates "
         "to the lead office and the leaders, and the task stays open."),
    _due("triage_review", "due_levels", "研判复核与指派", "Triage review and assignment",
         "学院学工办确认风险等级、指派辅导员的时限，逾期上报牵头部门。",
         "Time for the college officer to confirm the risk level and assign the "
         "counselor; overdue goes to the lead office."),
    _due("talk", "due_levels", "谈心谈话", "Talk with the student",
         "辅导员与学生谈话的时限（诈骗仍在进行时见下一项）。",
         "Time for the counselor's talk with the student (see the next setting when the "
         "fraud is still going on)."),
    _due("talk_ongoing", "due_flat", "谈心谈话（诈骗仍在进行）",
         "Talk when the fraud is still going on",
         "诈骗仍在进行（仍在联系、准备再次转账）时，谈话的时限。",
         "Time for the talk whenever the fraud is still going on (still in contact, "
         "about to pay again)."),
    _due("parent_contact", "due_levels", "家校联系（首次）", "Parent contact, first attempt",
         "首次联系家长的时限。", "Time for the first attempt to reach a guardian."),
    _due("parent_retry", "due_flat", "家校联系（再次尝试）", "Parent contact, next attempt",
         "未联系上家长后，下一次尝试的时限。",
         "Time for the next attempt after a guardian was not reached."),
    _due("psych_accept", "due_levels", "心理转介受理", "Psych referral: accept or decline",
         "心理健康中心受理或拒绝转介的时限（危机转介见“分级处置阈值”）。",
         "Time for the psych centre to accept or decline a referral (a crisis referral: "
         "see the triage thresholds)."),
    _due("psych_decline_decision", "due_levels", "转介被拒后的处理",
         "After a declined referral (college officer)",
         "转介被拒后，学院学工办结束心理环节或重新转介的时限。",
         "Time for the college officer to close the psych branch or refer again after "
         "a decline."),
    _due("psych_summary", "due_levels", "心理咨询小结", "Psych summary",
         "最后一次咨询后，心理健康中心提交小结的时限。",
         "Time for the psych centre's summary after the last session."),
    _due("police_referral", "due_levels", "协助报案／移交公安",
         "Police referral / report assistance",
         "谈话完成后，保卫处协助报案或移交公安核查的时限。",
         "Time, from the talk, for the security office to help report or hand over to "
         "the police."),
    _due("discipline", "due_levels", "纪律处分决定", "Discipline decision",
         "学院学工办作出处分决定的时限。", "Time for the college officer's discipline decision."),
    _due("class_lesson", "due_levels", "班级警示教育", "Class warning lesson",
         "谈话完成后，辅导员开展班级警示教育（发案即补课）的时限。",
         "Time, from the talk, for the counselor's class warning lesson."),
    _due("followup_interval", "due_levels", "跟踪回访间隔", "Follow-up visit interval",
         "谈话后第一次回访、以及两次回访之间的间隔。",
         "Time from the talk to the first follow-up visit, and between visits."),
    _due("closure_review", "due_levels", "结案审核", "Closure review",
         "结案审核开启后，学院学工办完成审核的时限。",
         "Time for the college officer's closure review once it opens."),
    _due("withdrawal_approval", "due_levels", "撤销／降级审批（牵头部门）",
         "Withdrawal / downgrade approval (lead office)",
         "牵头部门审批撤销或降级申请的时限。",
         "Time for the lead office to approve or refuse a withdrawal or downgrade."),
    _due("warning_reach", "due_flat", "见面劝阻", "Reach the student",
         "收到公安预警后，辅导员和保卫处见到（联系到）学生的时限；逾期上报学院学工办和牵头部门。",
         "Time to reach the student after a police warning; overdue goes to the college "
         "officer and the lead office.", "warnings"),
    _due("warning_leaders", "due_flat", "预警上报领导小组", "Warning: escalate to the leaders",
         "自预警时起算，仍未见到学生时上报领导小组的时限。",
         "Time from the warning after which the leaders are told the student is still "
         "not reached.", "warnings"),
    _due("police_feedback", "due_flat", "向公安反馈", "Feedback to the police",
         "劝阻结果记录后，向公安反馈的时限。",
         "Time, from the outcome, to give feedback to the police.", "warnings"),
    Entry("screening_cycle", "screening", "duration", ("摸排周期", "Screening cycle"),
          ("自动发起新一轮涉诈隐患摸排的间隔。",
           "How often a new screening round starts by itself.")),
    _due("screening_round", "due_flat", "班级摸排时限", "Class screening",
         "摸排轮次开始后，辅导员完成班级摸排的默认时限（每轮可另定截止日期）。",
         "Default time, from a round's start, for each class screening (a round may set "
         "its own due date).", "screening"),
    _due("screening_review", "due_flat", "学院审核摸排", "College round review",
         "班级摸排截止后，学院审核本院摸排的时限。",
         "Time, after the class screenings are due, for the college's round review.",
         "screening"),
    Entry("parent_contact_attempts", "triage", "count",
          ("家长联系尝试次数", "Parent contact attempts"),
          ("联系家长的最多尝试次数；最后一次仍未联系上即上报学院学工办。",
           "Attempts to reach a guardian in all; the last failure escalates to the "
           "college officer."),
          {"min": 1, "max": 10, "unit": ("次", "attempt", "attempts")}),
    Entry("followup_visits", "triage", "level_counts",
          ("跟踪回访次数", "Follow-up visits"),
          ("谈话后跟踪帮扶回访的次数，按回访开始时的风险等级确定。",
           "Follow-up visits after the talk, by the risk level when the visits start."),
          {"min": 0, "max": 20, "unit": ("次", "visit", "visits")}),
    _due("psych_accept_crisis", "due_flat", "危机转介受理", "Crisis referral: accept",
         "出现危机信号时，心理健康中心受理转介的时限（已开启的转介缩短至此时限）。",
         "Time for the psych centre to take a crisis referral (an open referral's due "
         "time shortens to this).", "triage"),
    Entry("lead_office", "lead_office", "choice", ("牵头部门", "Lead office"),
          ("承担领导小组办公室职责的部门：接收上报、全校督导、报送报表、审批撤销和降级，可查看全部个案。",
           "The office that acts for the leaders' group: receives escalations, oversees "
           "the school, submits reports, approves withdrawals and downgrades, and sees "
           "every case."),
          {"choices": {"student_affairs": ("学生处", "Student affairs office"),
                       "security_office": ("保卫处", "Security office")}},
          note=LEAD_OFFICE_NOTE),
    Entry("term_start_dates", "periods", "date_list", ("学期开始日期", "Term start dates"),
          ("每个学期的第一天；两周统计周期从学期第一周的星期一开始。",
           "The first day of each term; two-week windows start on the Monday of a "
           "term's first week.")),
    Entry("month_cutoff_day", "periods", "cutoff_day", ("月度截止日", "Month cut-off day"),
          ("0 表示自然月；设为 d（1–28）时，某月从上月 d+1 日起至本月 d 日止"
           "（如“28日前报送”设为 27）。",
           "0 means the calendar month; with d (1–28), month M runs from day d+1 of the "
           "month before to day d of M (a school that reports before the 28th sets 27)."),
          {"min": 0, "max": 28}),
    Entry("case_counts_by", "periods", "choice", ("案件计入周期依据", "Cases count by"),
          ("案件计入哪个统计周期：按案发时间或登记时间（涉诈隐患始终按登记时间）。",
           "Which date puts a case in a period: when it happened or when it was "
           "registered (at-risk cases always count by registration)."),
          {"choices": {"happened": ("案发时间", "when it happened"),
                       "registered": ("登记时间", "when it was registered")}}),
    Entry("academic_year_start_month", "periods", "month",
          ("学年起始月份", "Academic year starts in"),
          ("学年从该月1日开始。", "The academic year starts on the 1st of this month."),
          {"min": 1, "max": 12}),
    Entry("fraud_free_window", "fraud_free", "choice", ("无诈评定期间", "Fraud-free window"),
          ("无诈班级、无诈学院、无诈宿舍须在该期间内无发案。",
           "Fraud-free classes, colleges and dormitories have no case (发案) in this "
           "period."),
          {"choices": {"academic_year": ("学年", "academic year"),
                       "term": ("学期", "term"),
                       "calendar_year": ("自然年", "calendar year")}}),
    Entry("fraud_free_min_app_signup_pct", "fraud_free", "percent",
          ("国家反诈中心APP最低注册率", "Minimum anti-fraud app sign-up rate"),
          ("评定无诈班级等须达到的“国家反诈中心”APP注册率（0–100%）；0 表示不作要求。",
           "The 国家反诈中心 app sign-up rate a fraud-free candidate must reach "
           "(0–100 %); 0 means no requirement."),
          {"min": 0, "max": 100}),
    Entry("session_idle_timeout", "sessions", "duration", ("空闲超时", "Idle timeout"),
          ("无操作超过该时长后须重新登录。", "Sign in again after this long without activity.")),
    Entry("session_absolute_timeout", "sessions", "duration", ("最长登录时长", "Absolute timeout"),
          ("登录后超过该时长须重新登录。", "Sign in again this long after signing in.")),
)
