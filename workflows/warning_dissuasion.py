"""The `warning_dissuasion` process (预警劝阻): forms, lanes and script helpers.

`bpmn/warning_dissuasion.bpmn` starts once caseflow has matched a police warning to a
student: the student's counselor and the security office both get "reach the student"
at once; whoever records it first completes it and a signal closes the other task.
Overdue escalates to the college officer and the lead office, and 2 h after the warning
to the leaders. If the student was not dissuaded, money moved or the student took part,
the process passes the "转个案处置" event, on which the app opens (or attaches to) the
student's fraud case. Last, the security office gives feedback to the police.

The form builders come from `workflows.common`, so labels and widgets look alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from caseflow import idcard
from workflows import common
from workflows.common import add_duration, amount, choice, flag, lookup, meta, need, text, when

PROCESS_ID = "warning_dissuasion"

LANES: dict[str, str] = {
    "辅导员": "counselor",
    "保卫处": "security_office",
}

# Students with these statuses are away from campus: reached by phone, video, a parent or
# the local police rather than in person.
AWAY_STATUSES = ("实习", "假期离校", "请假")
REACH_TASKS = ("reach_counselor", "reach_security")
FEEDBACK_TASK = "police_feedback"
# The throw event the app acts on: open (or attach to) the student's fraud case.
CASE_EVENT = "to_fraud_case"

# The keys the start data carries (the prepare script reads warned_at by name).
START_KEYS: tuple[str, ...] = (
    "warning_id", "warning_no", "warned_at", "fraud_type", "urgency", "student_status",
    "away",
)

URGENCY_CHOICES = {"urgent": ("紧急", "Urgent"), "high": ("较急", "High"),
                   "normal": ("一般", "Normal")}
REACHED_CHOICES = {"in_person": ("当面", "In person"), "phone": ("电话", "Phone"),
                   "video": ("视频", "Video"), "parent": ("通过家长", "Through a parent"),
                   "local_police": ("通过属地派出所", "Through the local police")}
FEEDBACK_CHANNELS = {"phone": ("电话", "Phone"), "system": ("预警平台", "Warning platform"),
                     "in_person": ("当面", "In person"), "document": ("书面", "In writing")}

MESSAGES_ZH: dict[str, str] = {
    **common.MESSAGES_ZH,
    "give a phone number, an ID-card number or a name": "请至少填写手机号码、身份证号或姓名之一",
    "not a phone number": "手机号码格式不正确",
    idcard.NOT_A_NUMBER: "身份证号格式不正确",
    idcard.WRONG_CHECK: "身份证号校验位不符（末位与前17位对不上），请核对号码",
    "give the amount transferred": "请填写已转账金额",
    "give when the money was transferred": "请填写转账时间",
    "give what the student did": "请选择涉诈行为",
}

_PHONE = re.compile(r"\+?\d{7,15}")


def clean_phone(value: str | None) -> str | None:
    """Return a phone number without spaces and dashes (None when empty)."""
    text = re.sub(r"[\s\-()]", "", value or "")
    return text or None


def clean_id_card(value: str | None) -> str | None:
    """Return an ID-card number in upper case without spaces (None when empty)."""
    text = re.sub(r"\s", "", value or "").upper()
    return text or None


class WarningSchema(Schema):
    """A police warning as the security office (or the police system) enters it."""

    phone = text("手机号码", "Phone number", max_length=30, sensitive="phone")
    id_card = text("身份证号", "ID-card number", max_length=30, sensitive="id_card")
    name = text("姓名", "Name", max_length=50)
    college_id = fields.Integer(load_default=None, metadata=meta(
        "学院", "College", "只有姓名时用于缩小候选范围", "Narrows the candidates when only a "
        "name is known", widget="select"))
    warned_at = when("预警时间", "Time of the warning", required=True)
    fraud_type = lookup("fraud_type", "诈骗类型", "Fraud type", required=True)
    urgency = choice(URGENCY_CHOICES, "紧急程度", "Urgency", required=False,
                     default="urgent", widget="radio")
    source_ref = text("预警编号", "Police reference", max_length=100,
                      help_zh="公安预警平台的编号；同一编号不会重复登记",
                      help_en="The police platform's number; the same number is not "
                               "entered twice")
    note = text("预警内容", "What the police said", max_length=2000, widget="textarea")

    # every problem at once: runs even when a field failed (then read what was typed)
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _check(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        phone, id_card = clean_phone(data.get("phone")), clean_id_card(data.get("id_card"))
        typed = original if isinstance(original, dict) else {}
        if not any(str(typed.get(k) or "").strip() for k in ("phone", "id_card", "name")):
            need(errors, "phone", "give a phone number, an ID-card number or a name")
        if phone and not _PHONE.fullmatch(phone):
            need(errors, "phone", "not a phone number")
        # a mistyped digit would match no student: say so while the number is at hand
        if id_card and (wrong := idcard.problem(id_card)):
            need(errors, "id_card", wrong)
        if errors:
            raise ValidationError(errors)

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["phone"] = clean_phone(data.get("phone"))
        data["id_card"] = clean_id_card(data.get("id_card"))
        data["name"] = (data.get("name") or "").strip() or None
        return data


WARNING = WarningSchema


class ReachSchema(Schema):
    """reach_counselor / reach_security: the student was reached (见面劝阻), and the outcome."""

    reached_at = when("见到学生的时间", "When the student was reached", required=True)
    reached_how = choice(REACHED_CHOICES, "劝阻方式", "How the student was reached",
                         widget="radio", help_zh="实习、假期离校或请假的学生可通过电话、视频、"
                         "家长或属地派出所劝阻", help_en="A student away from campus may be "
                         "reached by phone, video, a parent or the local police")
    dissuaded = fields.Boolean(required=True, metadata=meta(
        "是否劝阻成功", "Dissuaded", widget="radio"))
    money_transferred = flag("是否已转账", "Money already transferred")
    amount_cny = amount("已转账金额（元）", "Amount transferred (CNY)",
                        default=Decimal("0.00"))
    transferred_at = when("最后一次转账时间", "When the money was last transferred")
    took_part = flag("学生是否参与涉诈（如出租银行卡）",
                     "The student took part (e.g. rented out a card)")
    behaviour = lookup("behaviour", "涉诈行为", "What the student did",
                       help_zh="参与涉诈时填写", help_en="When the student took part")
    what_happened = text("劝阻经过", "What happened", max_length=4000, widget="textarea")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("money_transferred"):
            if not data.get("amount_cny"):
                need(errors, "amount_cny", "give the amount transferred")
            if not data.get("transferred_at"):
                need(errors, "transferred_at", "give when the money was transferred")
        if data.get("took_part") and not data.get("behaviour"):
            need(errors, "behaviour", "give what the student did")
        if errors:
            raise ValidationError(errors)


class FeedbackSchema(Schema):
    """police_feedback: the outcome is reported back to the police (反馈)."""

    fed_back_at = when("反馈时间", "When the police were told", required=True)
    channel = choice(FEEDBACK_CHANNELS, "反馈方式", "Channel", widget="radio")
    police_contact = text("接收反馈的民警或单位", "Police officer or unit", max_length=100)
    content = text("反馈内容", "What was reported", max_length=2000, required=True,
                   widget="textarea")


# Steps whose completion has side effects outside the workflow (the warning row, opening
# the student's fraud case): the generic task service hands them to this function.
COMPLETED_BY = {step: "caseflow.services.warnings:complete_task"
                for step in (*REACH_TASKS, FEEDBACK_TASK)}

FORMS: dict[str, type[Schema]] = {
    "reach_counselor": ReachSchema,
    "reach_security": ReachSchema,
    "police_feedback": FeedbackSchema,
}


def case_registration(outcome: Mapping[str, Any], warning: Mapping[str, Any]
                      ) -> dict[str, Any]:
    """Return the fraud-case registration for a reach outcome that needs a case.

    Took part → involved; money moved → victim; otherwise (not dissuaded) at-risk. A fraud
    that was not stopped is still going on, so its talk is due at once.
    """
    moved = bool(outcome.get("money_transferred"))
    category = "involved" if outcome.get("took_part") else "victim" if moved else "at_risk"
    what = outcome.get("what_happened") or warning.get("note") or "公安预警"
    data: dict[str, Any] = {
        "discovery_source": "police_notice", "category": category,
        "what_happened": f"公安预警 {warning.get('number')}：{what}",
        "happened_at": warning.get("warned_at"), "discovered_at": warning.get("warned_at"),
        "ongoing": "no" if outcome.get("dissuaded") else "yes",
        "loss_cny": str(outcome.get("amount_cny") or "0.00") if moved else "0.00",
        "last_transfer_at": outcome.get("transferred_at") if moved else None,
    }
    if category == "involved":
        data["behaviour"] = outcome.get("behaviour") or "other"
    else:
        data["fraud_type"] = warning.get("fraud_type") or "other"
    return data


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add_duration": add_duration,
}
