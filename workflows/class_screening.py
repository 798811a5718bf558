"""The `class_screening` process (班级涉诈隐患摸排): one small instance per class and round.

`bpmn/class_screening.bpmn` gives the class's counselor one task, due at the round's due
date (overdue → the college officer and the lead office). The counselor covers every
student in the round's scope, typed in row by row or uploaded as a sheet; the app checks
the rows (`caseflow.services.sheets`), writes one screening entry per student, opens or
attaches the flagged students' fraud cases, and completes the task with a summary. Each
follow-up date becomes a reminder task for the counselor on that day (a timer in a
multi-instance sub-process over `followups`).

The sheet columns and the words a sheet may use are defined here, beside the forms.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from workflows.common import choice, meta, text
from workflows.fraud_case import CATEGORY_CHOICES

PROCESS_ID = "class_screening"

LANES: dict[str, str] = {"辅导员": "counselor"}

TASK = "screen_class"
FOLLOWUP_TASK = "screening_followup"

# The keys the start data carries; the task's due property and timer read `due_at`.
START_KEYS: tuple[str, ...] = ("round_id", "round_no", "class_id", "class_code", "due_at",
                               "students")

# The sheet, exactly as counselors see it (template and upload).
COLUMNS: tuple[str, ...] = ("学号", "姓名", "状态", "类别", "诈骗类型", "说明", "未联系原因",
                            "跟进日期")
STATUS_CHOICES = {"talked": ("谈话", "Talked"), "flagged": ("标记", "Flagged"),
                  "not_reached": ("未能联系", "Not reached")}
STATUS_BY_LABEL: dict[str, str] = {zh: code for code, (zh, _) in STATUS_CHOICES.items()}
CATEGORY_BY_LABEL: dict[str, str] = {zh: code for code, (zh, _) in CATEGORY_CHOICES.items()}


def N_(text: str) -> str:  # the gettext convention for "translate later"
    """Mark a message for extraction; it is translated when shown."""
    return text


# What an upload is refused for (code -> English text; Chinese in the translations).
SHEET_MESSAGES: dict[str, str] = {
    "empty_file": N_("the file is empty"),
    "too_large": N_("the file is larger than %(max)s KB"),
    "xls_file": N_("this is an old .xls file: save it as .xlsx (Excel 2007 or later) or .csv"),
    "not_a_sheet": N_("this is not an .xlsx or .csv file"),
    "bad_csv": N_("the CSV file cannot be read: %(error)s"),
    "bad_encoding": N_("the text is neither UTF-8 nor GB18030"),
    "wrong_sheet": N_("this sheet was made for class %(klass)s in round %(round)s, "
                      "not for class %(want)s in round %(want_round)s"),
    "bad_header": N_("the columns must be exactly: %(expected)s (found: %(found)s)"),
    "missing_student": N_("student %(value)s %(name)s is missing from the sheet"),
    "too_long": N_("too long: at most %(max)s characters"),
    "no_note_key_group": N_("a key-group student needs a note"),
    "no_student_no": N_("give the student number"),
    "duplicate_row": N_("%(value)s appears twice (first in row %(first)s)"),
    "unknown_student": N_("unknown student number %(value)s"),
    "not_in_scope": N_("student %(value)s is not in this round's scope"),
    "not_in_class": N_("student %(value)s is in class %(klass)s, not in this class"),
    "name_mismatch": N_("the name does not match student %(value)s (%(expected)s)"),
    "no_status": N_("give the status: 谈话, 标记 or 未能联系"),
    "bad_status": N_("unknown status %(value)s: use 谈话, 标记 or 未能联系"),
    "only_flagged": N_("fill this only for 标记 rows"),
    "only_not_reached": N_("fill this only for 未能联系 rows"),
    "no_note": N_("give a note on a flagged student"),
    "no_category": N_("give the category of a flagged student: 受骗, 参诈涉诈 or 涉诈隐患"),
    "bad_category": N_("unknown category %(value)s: use 受骗, 参诈涉诈 or 涉诈隐患"),
    "no_fraud_type": N_("give the fraud type"),
    "bad_fraud_type": N_("unknown fraud type %(value)s: use one from the list"),
    "no_reason": N_("give the reason the student was not reached"),
    "no_followup_date": N_("give the follow-up date"),
    "bad_date": N_("not a date: write it as 2026-03-05"),
    "past_date": N_("the follow-up date %(value)s is in the past"),
}
# The template's instructions sheet.
SHEET_GUIDE = (
    "每名学生一行，不要增删学生，不要改动表头。状态：谈话 / 标记 / 未能联系。",
    "标记：填写类别（受骗 / 参诈涉诈 / 涉诈隐患）、诈骗类型（从下拉列表选择）和说明；"
    "参诈涉诈可改填涉诈行为。",
    "未能联系：填写未联系原因和跟进日期（如 2026-03-05，不早于今天），当天提醒辅导员跟进。",
    "说明栏为黄色的学生为重点关注学生，无论状态如何都须填写说明。",
    "整张表一次导入：任何一行有误，整张表都不导入，并列出每一处错误。",
)


FOLLOWUP_CHOICES = {"reached": ("已联系上", "Reached"),
                    "partly": ("部分联系上", "Some reached"),
                    "not_reached": ("仍未联系上", "Still not reached")}


class ScreeningRowSchema(Schema):
    """One student's line of the class screening (typed in or read from a sheet)."""

    student_no = fields.String(required=True, metadata=meta("学号", "Student number"))
    name = fields.String(load_default=None, metadata=meta("姓名", "Name"))
    status = choice(STATUS_CHOICES, "状态", "Status", widget="radio")
    category = choice(CATEGORY_CHOICES, "类别", "Category", required=False)
    fraud_type = text("诈骗类型", "Fraud type", max_length=60, lookup="fraud_type",
                      help_zh="受骗、涉诈隐患必填；参诈涉诈可填涉诈行为",
                      help_en="Required for victims and at-risk students; for involved "
                               "students the behaviour may be given")
    note = text("说明", "Note", max_length=2000, widget="textarea",
                help_zh="标记的学生和重点关注学生必填",
                help_en="Required for flagged and key-group students")
    reason = text("未联系原因", "Why not reached", max_length=200)
    followup_on = fields.Date(load_default=None, metadata=meta("跟进日期", "Follow-up date",
                                                               widget="date"))


class ScreenClassSchema(Schema):
    """screen_class: every student of the class in the round's scope, one row each.

    The app checks the rows as a whole (every student once, key-group notes, dates) with
    `caseflow.services.sheets` and completes the task with a summary, not the rows.
    """

    rows = fields.List(fields.Nested(ScreeningRowSchema), required=True,
                       validate=validate.Length(min=1),
                       metadata=meta("学生摸排情况", "Students", widget="rows"))


class FollowupSchema(Schema):
    """screening_followup: the students not reached in the screening, on the follow-up day."""

    result = choice(FOLLOWUP_CHOICES, "跟进结果", "Result", widget="radio")
    note = text("跟进情况", "What happened", max_length=2000, required=True,
                widget="textarea",
                help_zh="发现涉诈情况请另行登记个案", help_en="Register a case for any "
                "fraud you find")


FORMS: dict[str, type[Schema]] = {
    TASK: ScreenClassSchema,
    FOLLOWUP_TASK: FollowupSchema,
}
# The rows are checked as a whole and written as entries by the import, never completed raw.
COMPLETED_BY = {TASK: "caseflow.services.screening_import:complete_task"}


def summary(counts: dict[str, int], followups: list[dict[str, Any]], source: str,
            digest: str) -> dict[str, Any]:
    """Return the data the screen_class task completes with (never the rows themselves)."""
    return {"talked": counts.get("talked", 0), "flagged": counts.get("flagged", 0),
            "not_reached": counts.get("not_reached", 0), "source": source,
            "sheet_digest": digest, "followups": followups}
