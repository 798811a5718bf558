"""The fraud_case forms: the registration and one marshmallow schema per human task."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from workflows.common import amount, choice, day, flag, lookup, meta, need, text, when
from workflows.fraud_case.branches import discipline_allowed
from workflows.fraud_case.lists import (
    APPROVAL_CHOICES,
    ASSESSMENT_CHOICES,
    CATEGORY_CHOICES,
    CHANNEL_CHOICES,
    CRISIS_SIGNS,
    DISCIPLINE_CHOICES,
    FREEZE_CHOICES,
    KNOWING_CHOICES,
    LESSON_SCOPE_CHOICES,
    MOOD_CHOICES,
    ONGOING_CHOICES,
    POLICE_OUTCOME_CHOICES,
    PSYCH_STATUS_CHOICES,
    REACHED_CHOICES,
    RISK_CHOICES,
    STUDENT_STATE_CHOICES,
    TALKING_POINTS,
    VETO_CHOICES,
)

# ---------------------------------------------------------------------------- registration

class RegistrationSchema(Schema):
    """A registration (start data) or a new finding on an open case."""

    student_id = fields.Integer(required=True, metadata=meta("学生", "Student", widget="select"))
    discovery_source = lookup("discovery_source", "发现途径", "Discovery source",
                              required=True)
    category = choice(CATEGORY_CHOICES, "类别", "Category", widget="radio")
    fraud_type = lookup("fraud_type", "诈骗类型", "Fraud type",
                        help_zh="受骗、涉诈隐患学生填写",
                        help_en="For victims and at-risk students")
    behaviour = lookup("behaviour", "涉诈行为", "Involved behaviour",
                       help_zh="参诈涉诈学生填写", help_en="For involved students")
    what_happened = text("事情经过", "What happened", max_length=4000, required=True,
                         widget="textarea")
    happened_at = when("案发时间", "When it happened")
    discovered_at = when("发现时间", "When it was discovered")
    loss_cny = amount("损失金额（元）", "Amount lost (CNY)", default=Decimal("0.00"))
    money_source = lookup("money_source", "被骗资金来源", "Where the money came from")
    last_transfer_at = when("最后一次转账时间", "Last transfer",
                            help_zh="没有转账则不填", help_en="Leave empty when no money moved")
    ongoing = choice(ONGOING_CHOICES, "是否仍在进行", "Still going on", required=False,
                     default="unknown", widget="radio")
    reported_to_police = flag("是否已报警", "Reported to the police")
    reported_at = when("报警时间", "When it was reported")
    risk_signs = lookup("risk_sign", "风险迹象", "Risk signs", many=True)
    crisis_sign = flag("存在心理危机迹象", "Signs of a psychological crisis",
                       help_zh="勾选的风险迹象中有危机迹象时自动视为是",
                       help_en="Also set when a ticked risk sign is a crisis sign")
    public_opinion_risk = flag("存在舆情风险", "Public-opinion risk (舆情)")
    repeated_victim = flag("多次受骗", "Repeated victim")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        loss = data.get("loss_cny") or Decimal("0")
        if data.get("category") == "at_risk" and loss > 0:
            need(errors, "loss_cny", "a loss makes the student a victim")
        if data.get("category") in ("victim", "at_risk") and not data.get("fraud_type"):
            need(errors, "fraud_type", "give the fraud type")
        if data.get("category") == "involved" and not data.get("behaviour"):
            need(errors, "behaviour", "give the behaviour")
        if data.get("reported_to_police") and not data.get("reported_at"):
            need(errors, "reported_at", "give when it was reported")
        if errors:
            raise ValidationError(errors)

    @post_load
    def _derive(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        signs = set(data.get("risk_signs") or [])
        data["crisis_sign"] = bool(data.get("crisis_sign")) or bool(signs & CRISIS_SIGNS)
        data["public_opinion_risk"] = (bool(data.get("public_opinion_risk"))
                                       or "public_opinion" in signs)
        data["repeated_victim"] = bool(data.get("repeated_victim")) or "repeated_victim" in signs
        return data


REGISTRATION = RegistrationSchema


# ---------------------------------------------------------------------------- task forms

class MajorAckSchema(Schema):
    """major_ack: the lead office acknowledges a major case (立即报告)."""

    acknowledged = fields.Boolean(required=True, validate=validate.Equal(True),
                                  metadata=meta("已知悉并已上报", "Acknowledged and reported",
                                                widget="boolean"))
    reported_to = text("已报告的领导或部门", "Reported to", max_length=200)
    note = text("备注", "Note", max_length=2000, widget="textarea")


class StopPaymentSchema(Schema):
    """stop_payment: the emergency stop-payment liaison with the police (紧急止付)."""

    bank = text("银行或支付机构", "Bank or payment provider", max_length=100, required=True)
    account = text("账户（尾号）", "Account (last digits)", max_length=40, required=True,
                   sensitive="bank_account",
                   help_zh="只填尾号，系统掩码显示", help_en="Last digits only; shown masked")
    amount_cny = amount("止付金额（元）", "Amount to stop (CNY)", required=True)
    police_called_at = when("联系警方时间", "When the police were called", required=True)
    police_receipt_no = text("警方回执编号", "Police receipt number", max_length=60)
    freeze_result = choice(FREEZE_CHOICES, "冻结结果", "Freeze result")
    frozen_cny = amount("已冻结金额（元）", "Amount frozen (CNY)", default=Decimal("0.00"))
    note = text("备注", "Note", max_length=2000, widget="textarea")


class TriageReviewSchema(Schema):
    """triage_review: confirm or change the risk level, assign the counselor, plan (一人一策)."""

    confirm_risk = fields.Boolean(load_default=True, metadata=meta(
        "确认系统评定的风险等级", "Confirm the rated risk level", widget="boolean"))
    new_risk_level = choice(RISK_CHOICES, "调整后的风险等级", "New risk level",
                            required=False, widget="radio",
                            help_zh="降低受骗、参诈涉诈案件的等级须经牵头部门批准",
                            help_en="Lowering it for a victim or involved case needs the "
                                     "lead office's approval")
    override_reason = text("调整理由", "Reason for the change", max_length=1000,
                           widget="textarea")
    new_category = choice(CATEGORY_CHOICES, "更正类别", "Corrected category", required=False,
                          widget="radio")
    category_reason = text("更正类别的理由", "Reason for the category change",
                           max_length=1000, widget="textarea")
    counselor_id = fields.Integer(required=True, metadata=meta(
        "负责辅导员", "Counselor", "默认为学生所在班级的辅导员",
        "Defaults to the class's counselor", widget="select"))
    plan = text("处置计划（一人一策）", "Plan (一人一策)", max_length=4000, required=True,
                widget="textarea")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if not data.get("confirm_risk", True):
            if not data.get("new_risk_level"):
                need(errors, "new_risk_level", "give the new risk level")
            if not data.get("override_reason"):
                need(errors, "override_reason", "give the reason")
        if data.get("new_category") and not data.get("category_reason"):
            need(errors, "category_reason", "give the reason")
        if errors:
            raise ValidationError(errors)


class TalkSchema(Schema):
    """talk: the counselor's talk with the student (谈心谈话)."""

    reached_how = choice(REACHED_CHOICES, "联系方式", "How the student was reached",
                         widget="radio")
    talked_at = when("谈话时间", "When", required=True)
    place = text("地点", "Where", max_length=200)
    ongoing = choice(ONGOING_CHOICES, "诈骗是否仍在进行", "Is the fraud still going on",
                     widget="radio", help_zh="仍在联系或将再次付款选“是”",
                     help_en="Yes when still in contact or about to pay again")
    what_happened = text("事情经过", "What happened", max_length=4000, required=True,
                         widget="textarea")
    family_situation = text("家庭情况", "Family situation", max_length=2000,
                            widget="textarea")
    academic_situation = text("学业情况", "Academic situation", max_length=2000,
                              widget="textarea")
    money_source = lookup("money_source", "被骗资金来源", "Where the lost money came from")
    mood = choice(MOOD_CHOICES, "情绪状态", "Emotional state", widget="radio")
    crisis_indicated = flag("发现心理危机迹象", "Crisis indicators seen",
                            help_zh="自伤、轻生念头或严重情绪崩溃：立即启动危机干预",
                            help_en="Self-harm talk, suicidal thoughts or severe distress: "
                                     "starts the crisis escalation at once")
    risk_signs = lookup("risk_sign", "风险迹象", "Risk signs", many=True)
    involvement = text("涉诈行为经过（参诈涉诈）", "What the student did (involved)",
                       max_length=4000, widget="textarea")
    knowing = choice(KNOWING_CHOICES, "是否主观故意", "Knowingly", required=False,
                     widget="radio", help_zh="参诈涉诈学生填写", help_en="For involved students")
    activity_stopped = flag("涉诈行为是否已停止", "Activity stopped")
    accounts_cancelled = flag("相关卡号账户是否已注销", "Cards / accounts cancelled")
    refer_psych = flag("转介心理健康中心", "Refer to the psych centre")


class ParentContactSchema(Schema):
    """parent_contact: one attempt to contact the family (家校联系)."""

    guardian = text("监护人", "Guardian", max_length=60, required=True)
    relation = text("与学生关系", "Relation", max_length=30)
    channel = choice(CHANNEL_CHOICES, "联系方式", "Channel", widget="radio")
    contacted_at = when("联系时间", "When", required=True)
    reached = fields.Boolean(required=True, metadata=meta("是否联系上", "Reached",
                                                          widget="radio"))
    talking_points = fields.List(
        fields.String(validate=validate.OneOf(list(TALKING_POINTS))), load_default=list,
        metadata=meta("沟通内容", "What was said", widget="checkboxes",
                      choices={k: {"zh": v[0], "en": v[1]} for k, v in TALKING_POINTS.items()}))
    family_response = text("家长反馈", "The family's response", max_length=2000,
                           widget="textarea")
    not_reached_reason = text("未联系上的原因", "Why not reached", max_length=500)


class PsychAcceptSchema(Schema):
    """psych_accept: the psych centre accepts or declines a referral."""

    accept = choice({"accept": ("接收", "Accept"), "decline": ("拒绝", "Decline")},
                    "是否接收转介", "Accept the referral", widget="radio")
    decline_reason = text("拒绝理由", "Reason for declining", max_length=1000,
                          widget="textarea")
    first_session_at = when("首次咨询时间", "First session", past=False)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("accept") == "decline" and not data.get("decline_reason"):
            raise ValidationError("give the reason", "decline_reason")
        if data.get("accept") == "accept" and not data.get("first_session_at"):
            raise ValidationError("give the date of the first session", "first_session_at")


class PsychDeclineDecisionSchema(Schema):
    """psych_decline_decision: the college officer closes the psych branch or re-refers."""

    decline_action = choice({"close_branch": ("结束心理转介（案件继续）",
                                              "Close the psych branch (not the case)"),
                             "re_refer": ("重新转介", "Refer again")},
                            "处理决定", "Decision", widget="radio")
    reason = text("理由", "Reason", max_length=1000, required=True, widget="textarea")


class CounselingSessionSchema(Schema):
    """counseling_session: one session; its notes are confidential to the psych centre."""

    session_at = when("咨询时间", "When", required=True)
    notes = fields.String(load_default=None, validate=validate.Length(max=20000),
                          metadata=meta("咨询记录（保密）", "Session notes (confidential)",
                                        "仅心理健康中心可见，不进入流程数据",
                                        "Only the psych centre sees them; never in the "
                                        "workflow data", widget="textarea", confidential=True))
    risk_assessment = choice(ASSESSMENT_CHOICES, "风险评估", "Risk assessment", widget="radio",
                             help_zh="评估为“危机”将立即启动危机干预",
                             help_en="Crisis starts the crisis escalation at once")
    more_sessions = fields.Boolean(required=True, metadata=meta(
        "是否继续咨询", "More sessions", widget="radio"))
    next_session_at = when("下次咨询时间", "Next session", past=False)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("more_sessions") and not data.get("next_session_at"):
            raise ValidationError("give the date of the next session", "next_session_at")


class PsychSummarySchema(Schema):
    """psych_summary: what the counselor may read (the notes stay confidential)."""

    sessions_held = fields.Integer(required=True, validate=validate.Range(min=0),
                                   metadata=meta("咨询次数", "Sessions held", widget="number"))
    status = choice(PSYCH_STATUS_CHOICES, "目前状况", "Status", widget="radio")
    summary = text("咨询总结（辅导员可见）", "Summary (the counselor may read it)",
                   max_length=4000, required=True, widget="textarea")


class PoliceReferralSchema(Schema):
    """police_referral: report assistance (协助报案) or the hand-over (移交核查处置)."""

    police_station = text("报案派出所", "Police station", max_length=100, required=True)
    reported_on = day("报案日期", "Date")
    receipt_no = text("报案回执编号", "Report receipt number (报案回执)", max_length=60)
    case_no = text("立案号", "Case number (立案号)", max_length=60)
    outcome = choice(POLICE_OUTCOME_CHOICES, "结果", "Outcome")
    handed_over = flag("已移交属地公安核查处置（参诈涉诈）",
                       "Handed over for investigation (involved)")
    handed_over_on = day("移交日期", "Hand-over date", required=False)
    note = text("备注", "Note", max_length=2000, widget="textarea")


class DisciplineDecisionSchema(Schema):
    """discipline_decision: recommendation and vetoes (一票否决); needs knowing participation."""

    knowing = choice(KNOWING_CHOICES, "是否主观故意", "Knowing participation",
                     widget="radio", help_zh="处分和一票否决以主观故意为前提",
                     help_en="A sanction or veto requires knowing participation")
    level = choice(DISCIPLINE_CHOICES, "处分建议", "Recommendation")
    vetoes = fields.List(
        fields.String(validate=validate.OneOf(list(VETO_CHOICES))), load_default=list,
        metadata=meta("一票否决事项", "Vetoes (一票否决)", widget="checkboxes",
                      choices={k: {"zh": v[0], "en": v[1]} for k, v in VETO_CHOICES.items()}))
    reason = text("理由", "Reason", max_length=2000, required=True, widget="textarea")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if not discipline_allowed(data.get("knowing"), data.get("level"), data.get("vetoes")):
            raise ValidationError("a sanction or veto needs knowing participation", "knowing")


class ClassLessonSchema(Schema):
    """class_lesson: the warning lesson after a case (发案即补课)."""

    held_on = day("日期", "Date")
    scope = choice(LESSON_SCOPE_CHOICES, "范围", "Scope", widget="radio")
    attendance = fields.Integer(required=True, validate=validate.Range(min=0),
                                metadata=meta("参加人数", "Attendance", widget="number"))
    material = text("使用的材料", "Material used", max_length=500, required=True)


class FollowupVisitSchema(Schema):
    """followup_visit: one follow-up visit (跟踪帮扶)."""

    visited_at = when("回访时间", "When", required=True)
    reached_how = choice(REACHED_CHOICES, "联系方式", "How the student was reached",
                         widget="radio")
    student_state = choice(STUDENT_STATE_CHOICES, "学生状况", "How the student is",
                           widget="radio")
    crisis_indicated = flag("发现心理危机迹象", "Crisis signs seen",
                            help_zh="立即启动危机干预", help_en="Starts the crisis escalation")
    risk_signs = lookup("risk_sign", "风险迹象", "Risk signs", many=True)
    concerns = text("需关注的问题", "Concerns", max_length=2000, widget="textarea")


class ClosureReviewSchema(Schema):
    """closure_review: approve with a closing summary, or send back to follow-up."""

    closure_decision = choice({"approve": ("同意结案", "Approve"),
                               "send_back": ("退回继续跟踪", "Send back to follow-up")},
                              "审核意见", "Decision", widget="radio")
    closing_summary = text("结案小结", "Closing summary", max_length=4000, widget="textarea")
    recovered_cny = amount("已追回金额（元）", "Amount recovered (CNY)",
                           default=Decimal("0.00"))
    lessons = text("经验教训", "Lessons learned", max_length=4000, widget="textarea")
    send_back_reason = text("退回理由", "Reason for sending back", max_length=1000,
                            widget="textarea")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("closure_decision") == "approve" and not data.get("closing_summary"):
            raise ValidationError("give the closing summary", "closing_summary")
        if data.get("closure_decision") == "send_back" and not data.get("send_back_reason"):
            raise ValidationError("give the reason", "send_back_reason")


class ApprovalSchema(Schema):
    """withdrawal_approval / downgrade_approval: the lead office approves or refuses."""

    approval = choice(APPROVAL_CHOICES, "审批意见", "Decision", widget="radio")
    reason = text("理由", "Reason", max_length=1000, widget="textarea",
                  help_zh="不同意时必填", help_en="Required when refusing")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("approval") == "refuse" and not data.get("reason"):
            raise ValidationError("give the reason", "reason")


FORMS: dict[str, type[Schema]] = {
    "major_ack": MajorAckSchema,
    "stop_payment": StopPaymentSchema,
    "triage_review": TriageReviewSchema,
    "talk": TalkSchema,
    "parent_contact": ParentContactSchema,
    "psych_accept": PsychAcceptSchema,
    "psych_decline_decision": PsychDeclineDecisionSchema,
    "counseling_session": CounselingSessionSchema,
    "psych_summary": PsychSummarySchema,
    "police_referral": PoliceReferralSchema,
    "discipline_decision": DisciplineDecisionSchema,
    "class_lesson": ClassLessonSchema,
    "followup_visit": FollowupVisitSchema,
    "closure_review": ClosureReviewSchema,
    "withdrawal_approval": ApprovalSchema,
    "downgrade_approval": ApprovalSchema,
}
