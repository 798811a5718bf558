"""The `fraud_case` process (涉诈学生个案处置): forms, lanes, seed lists and script helpers.

`bpmn/fraud_case.bpmn` decides the order of the steps; this module describes what each
human step asks for (one marshmallow schema per user task), which role works in which
lane, the editable lists the forms use (seeded into the database), and the few pure
functions the BPMN scripts call to merge facts into the `case_facts` data object.

The script helpers never read the clock, the settings or the database: the BPMN scripts
pass in what they read through the standard script functions (`due_time`, `setting`,
`hours_since`, `now_iso`). Only the form validators read `caseflow.clock` (times "not in
the future").

Why the scripts are written the way they are: SpiffWorkflow copies a data object into a
task when the task becomes READY and writes it back when it completes, so a task that
writes `case_facts` must never wait READY while another branch writes it (the later
write would undo the earlier one). The model therefore throws its signals and messages
only after the writes of a step, and every helper returns a new dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from caseflow import clock

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
_RANK = {"yellow": 0, "orange": 1, "red": 2}
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
    "a loss makes the student a victim": "有损失的学生应登记为受骗",
    "must not be in the future": "不能晚于当前时间",
    "must not be in the past": "不能早于当前时间",
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


# ---------------------------------------------------------------------------- seed lists

def _item(code: str, zh: str, en: str, crisis: bool = False) -> dict[str, Any]:
    return {"code": code, "zh": zh, "en": en, "crisis": crisis}


# Editable lists (kept as data: seeded into the lookups table, checked by the app).
LOOKUPS: dict[str, list[dict[str, Any]]] = {
    "fraud_type": [
        _item("order_brushing", "刷单返利", "Order-brushing rebate"),
        _item("fake_ecommerce_service", "冒充电商物流客服", "Fake e-commerce / courier service"),
        _item("fake_shopping", "虚假购物", "Fake online shopping"),
        _item("fake_game_trade", "游戏账号/装备虚假交易", "Fake game account / item trade"),
        _item("online_loan", "网络贷款/校园贷", "Online loan / campus loan"),
        _item("fake_investment", "投资理财", "Investment and wealth management"),
        _item("fake_authority", "冒充公检法", "Impersonating police, procuratorate or court"),
        _item("fake_acquaintance", "冒充熟人/QQ好友", "Impersonating an acquaintance / QQ friend"),
        _item("fake_leader_teacher", "冒充领导/老师", "Impersonating a leader / teacher"),
        _item("fake_ticket_refund", "机票退改签", "Flight refund / rebooking"),
        _item("fake_job", "虚假招聘/兼职", "Fake recruitment / part-time job"),
        _item("romance_scam", "网络交友/杀猪盘", "Online dating / pig-butchering"),
        _item("other", "其他", "Other"),
    ],
    "discovery_source": [
        _item("counselor_talk", "谈心谈话", "Counselor's talk"),
        _item("class_informant", "班级信息员", "Class informant"),
        _item("screening", "涉诈隐患摸排", "Screening round"),
        _item("self_test", "风险自测", "Risk self-test"),
        _item("abnormal_behaviour", "消费或行为异常", "Abnormal spending or behaviour"),
        _item("police_notice", "公安通报/预警", "Police notice / warning"),
        _item("hotline", "接诉即办", "School hotline"),
        _item("self_report", "学生本人报告", "Reported by the student"),
        _item("parent_report", "家长反映", "Reported by a parent"),
        _item("other", "其他", "Other"),
    ],
    "behaviour": [
        _item("phone_card", "出售/出租/出借手机卡", "Selling, renting or lending phone cards"),
        _item("bank_card", "出售/出租/出借银行卡", "Selling, renting or lending bank cards"),
        _item("payment_account", "出售/出租/出借支付账户",
              "Selling, renting or lending payment accounts"),
        _item("social_account", "出售/出租/出借社交账号（微信、QQ等）",
              "Selling, renting or lending social accounts (WeChat, QQ)"),
        _item("iot_card", "出售/出租/出借物联网卡", "Selling, renting or lending IoT cards"),
        _item("order_brushing", "兼职刷单、刷信誉", "Paid order-brushing"),
        _item("money_laundering", "跑分洗钱", "Money laundering (跑分)"),
        _item("lead_generation", "拨打引流电话、发送引流信息", "Lead-generation calls or messages"),
        _item("goip", "提供GOIP等诈骗通信设备话务服务", "Operating GOIP devices"),
        _item("fraud_company", "为诈骗公司工作", "Working for a fraud company"),
        _item("other", "其他", "Other"),
    ],
    "money_source": [
        _item("living_expenses", "生活费", "Living expenses"),
        _item("tuition", "学费", "Tuition"),
        _item("online_loan", "网贷", "Online loan"),
        _item("borrowed", "借款", "Borrowed money"),
        _item("parents", "家长", "Parents"),
        _item("other", "其他", "Other"),
    ],
    "risk_sign": [
        _item("self_harm_talk", "流露自伤、自残念头", "Talks of self-harm", crisis=True),
        _item("suicidal_thoughts", "有轻生念头", "Suicidal thoughts", crisis=True),
        _item("severe_distress", "情绪严重崩溃、极度痛苦", "Severe distress", crisis=True),
        _item("extreme_action_threat", "扬言采取极端行为", "Threatens extreme action",
              crisis=True),
        _item("large_debts", "背负较大债务", "Large debts"),
        _item("repeated_victim", "多次受骗", "Repeated victim"),
        _item("public_opinion", "存在舆情风险", "Public-opinion risk (舆情)"),
        _item("low_mood", "情绪低落、封闭孤僻", "Low mood, withdrawn"),
        _item("abnormal_spending", "消费异常", "Abnormal spending"),
        _item("heavy_gaming", "沉迷网络游戏", "Heavy gaming"),
        _item("online_loans", "使用网贷", "Uses online loans"),
        _item("part_time_jobs", "从事网上兼职", "Online part-time 'jobs'"),
        _item("online_dating", "网络交友", "Online dating"),
        _item("account_selling", "出售或出租账号、银行卡", "Selling or renting accounts or cards"),
    ],
}

# The seed's crisis signs; the app may instead compute crisis_sign from the lookups table.
CRISIS_SIGNS = frozenset(i["code"] for i in LOOKUPS["risk_sign"] if i["crisis"])


# ---------------------------------------------------------------------------- validators

def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def not_future(value: datetime | date) -> None:
    """Refuse a time (or date) later than now (one minute of clock skew allowed)."""
    now = clock.now()
    if isinstance(value, datetime):
        if _aware(value) > now + timedelta(minutes=1):
            raise ValidationError("must not be in the future")
    elif value > (now + timedelta(hours=8)).date():  # dates are Asia/Shanghai dates
        raise ValidationError("must not be in the future")


def not_past(value: datetime) -> None:
    """Refuse an appointment earlier than now (five minutes of slack)."""
    if _aware(value) < clock.now() - timedelta(minutes=5):
        raise ValidationError("must not be in the past")


def _meta(zh: str, en: str, help_zh: str | None = None, help_en: str | None = None,
          **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"label": {"zh": zh, "en": en}}
    if help_zh or help_en:
        meta["help"] = {"zh": help_zh or help_en, "en": help_en or help_zh}
    meta.update(extra)
    return meta


def _choice(values: Mapping[str, tuple[str, str]], zh: str, en: str, *, required: bool = True,
            widget: str = "select", default: Any = None, help_zh: str | None = None,
            help_en: str | None = None) -> fields.String:
    """A fixed enum (validate.OneOf) with Chinese and English labels per value."""
    meta = _meta(zh, en, help_zh, help_en, widget=widget,
                 choices={k: {"zh": v[0], "en": v[1]} for k, v in values.items()})
    if required:
        return fields.String(required=True, validate=validate.OneOf(list(values)),
                             metadata=meta)
    return fields.String(load_default=default, validate=validate.OneOf(list(values)),
                         metadata=meta)


def _text(zh: str, en: str, *, max_length: int = 200, required: bool = False,
          widget: str = "text", help_zh: str | None = None, help_en: str | None = None,
          **extra: Any) -> fields.String:
    meta = _meta(zh, en, help_zh, help_en, widget=widget, **extra)
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_length),
                             metadata=meta)
    return fields.String(load_default=None, validate=validate.Length(max=max_length),
                         metadata=meta)


MONEY_MAX = Decimal("9999999999.99")  # the money columns hold 12 digits: sums stay in range


def _money(zh: str, en: str, *, required: bool = False, default: Any = None,
           help_zh: str | None = None, help_en: str | None = None) -> fields.Decimal:
    meta = _meta(zh, en, help_zh, help_en, widget="money")
    kwargs: dict[str, Any] = {"required": True} if required else {"load_default": default}
    return fields.Decimal(as_string=True, places=2, validate=validate.Range(min=0, max=MONEY_MAX),
                          metadata=meta, **kwargs)


def _when(zh: str, en: str, *, required: bool = False, past: bool = True,
          help_zh: str | None = None, help_en: str | None = None) -> fields.AwareDateTime:
    meta = _meta(zh, en, help_zh, help_en, widget="datetime")
    check = not_future if past else not_past
    kwargs: dict[str, Any] = {"required": True} if required else {"load_default": None}
    return fields.AwareDateTime(default_timezone=UTC, validate=check, metadata=meta, **kwargs)


def _day(zh: str, en: str, *, required: bool = True) -> fields.Date:
    meta = _meta(zh, en, widget="date")
    kwargs: dict[str, Any] = {"required": True} if required else {"load_default": None}
    return fields.Date(validate=not_future, metadata=meta, **kwargs)


def _flag(zh: str, en: str, *, default: bool = False, help_zh: str | None = None,
          help_en: str | None = None) -> fields.Boolean:
    return fields.Boolean(load_default=default,
                          metadata=_meta(zh, en, help_zh, help_en, widget="boolean"))


def _lookup(kind: str, zh: str, en: str, *, required: bool = False, many: bool = False,
            help_zh: str | None = None, help_en: str | None = None) -> fields.Field:
    """A code from an editable list; the app checks it against the lookups table."""
    meta = _meta(zh, en, help_zh, help_en, lookup=kind,
                 widget="checkboxes" if many else "select")
    if many:
        return fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                           load_default=list, metadata=meta)
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=50),
                             metadata=meta)
    return fields.String(load_default=None, validate=validate.Length(max=50), metadata=meta)


def _need(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


# ---------------------------------------------------------------------------- enums

CATEGORY_CHOICES = {"victim": ("受骗", "Victim"), "involved": ("参诈涉诈", "Involved"),
                    "at_risk": ("涉诈隐患", "At risk")}
ONGOING_CHOICES = {"yes": ("是，仍在联系或将再次付款", "Yes, still in contact or about to pay"),
                   "no": ("否", "No"), "unknown": ("不清楚", "Unknown")}
RISK_CHOICES = {"red": ("红色", "Red"), "orange": ("橙色", "Orange"), "yellow": ("黄色", "Yellow")}
REACHED_CHOICES = {"in_person": ("当面", "In person"), "phone": ("电话", "Phone"),
                   "video": ("视频", "Video"), "parent": ("通过家长", "Through a parent"),
                   "local_police": ("通过属地公安", "Through the local police")}
CHANNEL_CHOICES = {"phone": ("电话", "Phone"), "wechat": ("微信", "WeChat"),
                   "visit": ("家访", "Home visit"), "letter": ("书信", "Letter")}
KNOWING_CHOICES = {"yes": ("是（主观故意）", "Yes (knowingly)"), "no": ("否", "No"),
                   "unclear": ("尚不清楚", "Unclear")}
MOOD_CHOICES = {"stable": ("平稳", "Stable"), "worried": ("焦虑担忧", "Worried"),
                "low": ("低落", "Low"), "distressed": ("痛苦崩溃", "Distressed")}
ASSESSMENT_CHOICES = {"low": ("低", "Low"), "medium": ("中", "Medium"), "high": ("高", "High"),
                      "crisis": ("危机", "Crisis")}
DISCIPLINE_CHOICES = {"none": ("不予处分", "None"), "warning": ("警告", "Warning"),
                      "serious_warning": ("严重警告", "Serious warning"),
                      "demerit": ("记过", "Demerit"), "probation": ("留校察看", "Probation"),
                      "expulsion": ("开除学籍", "Expulsion")}
VETO_CHOICES = {"awards": ("评优评先", "Awards"), "party": ("入党政审", "Party admission"),
                "cadre": ("参选学生干部", "Student cadre elections"),
                "xuandiao": ("选调生资格审查", "Xuandiao civil-service selection")}
FREEZE_CHOICES = {"frozen": ("已冻结", "Frozen"), "partly_frozen": ("部分冻结", "Partly frozen"),
                  "not_frozen": ("未能冻结", "Not frozen"), "pending": ("等待结果", "Pending")}
POLICE_OUTCOME_CHOICES = {"reported": ("已报案", "Reported"), "filed": ("已立案", "Case filed"),
                          "not_filed": ("未立案", "Not filed"),
                          "handed_over": ("已移交核查处置", "Handed over for investigation"),
                          "pending": ("等待公安处理", "Pending")}
TALKING_POINTS = {"watch_cards_money": ("关注孩子两卡及资金异动",
                                        "Watch the child's cards and money movements"),
                  "install_app": ("安装国家反诈中心APP", "Install the 国家反诈中心 app"),
                  "talk_at_home": ("在家中做好教育引导", "Talk it through at home"),
                  "contact_school": ("发现异常及时联系学校", "Contact the school on any sign")}
LESSON_SCOPE_CHOICES = {"class": ("班级", "Class"), "dormitory": ("宿舍", "Dormitory"),
                        "college": ("学院", "College")}
STUDENT_STATE_CHOICES = {"stable": ("稳定", "Stable"), "improving": ("好转", "Improving"),
                         "worried": ("需关注", "Needs attention"),
                         "deteriorating": ("恶化", "Deteriorating")}
PSYCH_STATUS_CHOICES = {"stable": ("情绪稳定", "Stable"), "improved": ("明显好转", "Improved"),
                        "needs_attention": ("仍需关注", "Needs attention"),
                        "referred_out": ("已转介专业机构", "Referred to a hospital / clinic")}
APPROVAL_CHOICES = {"approve": ("同意", "Approve"), "refuse": ("不同意", "Refuse")}


# ---------------------------------------------------------------------------- registration

class RegistrationSchema(Schema):
    """A registration (start data) or a new finding on an open case."""

    student_id = fields.Integer(required=True, metadata=_meta("学生", "Student", widget="select"))
    discovery_source = _lookup("discovery_source", "发现途径", "Discovery source",
                               required=True)
    category = _choice(CATEGORY_CHOICES, "类别", "Category", widget="radio")
    fraud_type = _lookup("fraud_type", "诈骗类型", "Fraud type",
                         help_zh="受骗、涉诈隐患学生填写",
                         help_en="For victims and at-risk students")
    behaviour = _lookup("behaviour", "涉诈行为", "Involved behaviour",
                        help_zh="参诈涉诈学生填写", help_en="For involved students")
    what_happened = _text("事情经过", "What happened", max_length=4000, required=True,
                          widget="textarea")
    happened_at = _when("案发时间", "When it happened")
    discovered_at = _when("发现时间", "When it was discovered")
    loss_cny = _money("损失金额（元）", "Amount lost (CNY)", default=Decimal("0.00"))
    money_source = _lookup("money_source", "被骗资金来源", "Where the money came from")
    last_transfer_at = _when("最后一次转账时间", "Last transfer",
                             help_zh="没有转账则不填", help_en="Leave empty when no money moved")
    ongoing = _choice(ONGOING_CHOICES, "是否仍在进行", "Still going on", required=False,
                      default="unknown", widget="radio")
    reported_to_police = _flag("是否已报警", "Reported to the police")
    reported_at = _when("报警时间", "When it was reported")
    risk_signs = _lookup("risk_sign", "风险迹象", "Risk signs", many=True)
    crisis_sign = _flag("存在心理危机迹象", "Signs of a psychological crisis",
                        help_zh="勾选的风险迹象中有危机迹象时自动视为是",
                        help_en="Also set when a ticked risk sign is a crisis sign")
    public_opinion_risk = _flag("存在舆情风险", "Public-opinion risk (舆情)")
    repeated_victim = _flag("多次受骗", "Repeated victim")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        loss = data.get("loss_cny") or Decimal("0")
        if data.get("category") == "at_risk" and loss > 0:
            _need(errors, "loss_cny", "a loss makes the student a victim")
        if data.get("category") in ("victim", "at_risk") and not data.get("fraud_type"):
            _need(errors, "fraud_type", "give the fraud type")
        if data.get("category") == "involved" and not data.get("behaviour"):
            _need(errors, "behaviour", "give the behaviour")
        if data.get("reported_to_police") and not data.get("reported_at"):
            _need(errors, "reported_at", "give when it was reported")
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
                                  metadata=_meta("已知悉并已上报", "Acknowledged and reported",
                                                 widget="boolean"))
    reported_to = _text("已报告的领导或部门", "Reported to", max_length=200)
    note = _text("备注", "Note", max_length=2000, widget="textarea")


class StopPaymentSchema(Schema):
    """stop_payment: the emergency stop-payment liaison with the police (紧急止付)."""

    bank = _text("银行或支付机构", "Bank or payment provider", max_length=100, required=True)
    account = _text("账户（尾号）", "Account (last digits)", max_length=40, required=True,
                    sensitive="bank_account",
                    help_zh="只填尾号，系统掩码显示", help_en="Last digits only; shown masked")
    amount_cny = _money("止付金额（元）", "Amount to stop (CNY)", required=True)
    police_called_at = _when("联系警方时间", "When the police were called", required=True)
    police_receipt_no = _text("警方回执编号", "Police receipt number", max_length=60)
    freeze_result = _choice(FREEZE_CHOICES, "冻结结果", "Freeze result")
    frozen_cny = _money("已冻结金额（元）", "Amount frozen (CNY)", default=Decimal("0.00"))
    note = _text("备注", "Note", max_length=2000, widget="textarea")


class TriageReviewSchema(Schema):
    """triage_review: confirm or change the risk level, assign the counselor, plan (一人一策)."""

    confirm_risk = fields.Boolean(load_default=True, metadata=_meta(
        "确认系统评定的风险等级", "Confirm the rated risk level", widget="boolean"))
    new_risk_level = _choice(RISK_CHOICES, "调整后的风险等级", "New risk level",
                             required=False, widget="radio",
                             help_zh="降低受骗、参诈涉诈案件的等级须经牵头部门批准",
                             help_en="Lowering it for a victim or involved case needs the "
                                     "lead office's approval")
    override_reason = _text("调整理由", "Reason for the change", max_length=1000,
                            widget="textarea")
    new_category = _choice(CATEGORY_CHOICES, "更正类别", "Corrected category", required=False,
                           widget="radio")
    category_reason = _text("更正类别的理由", "Reason for the category change",
                            max_length=1000, widget="textarea")
    counselor_id = fields.Integer(required=True, metadata=_meta(
        "负责辅导员", "Counselor", "默认为学生所在班级的辅导员",
        "Defaults to the class's counselor", widget="select"))
    plan = _text("处置计划（一人一策）", "Plan (一人一策)", max_length=4000, required=True,
                 widget="textarea")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if not data.get("confirm_risk", True):
            if not data.get("new_risk_level"):
                _need(errors, "new_risk_level", "give the new risk level")
            if not data.get("override_reason"):
                _need(errors, "override_reason", "give the reason")
        if data.get("new_category") and not data.get("category_reason"):
            _need(errors, "category_reason", "give the reason")
        if errors:
            raise ValidationError(errors)


class TalkSchema(Schema):
    """talk: the counselor's talk with the student (谈心谈话)."""

    reached_how = _choice(REACHED_CHOICES, "联系方式", "How the student was reached",
                          widget="radio")
    talked_at = _when("谈话时间", "When", required=True)
    place = _text("地点", "Where", max_length=200)
    ongoing = _choice(ONGOING_CHOICES, "诈骗是否仍在进行", "Is the fraud still going on",
                      widget="radio", help_zh="仍在联系或将再次付款选“是”",
                      help_en="Yes when still in contact or about to pay again")
    what_happened = _text("事情经过", "What happened", max_length=4000, required=True,
                          widget="textarea")
    family_situation = _text("家庭情况", "Family situation", max_length=2000,
                             widget="textarea")
    academic_situation = _text("学业情况", "Academic situation", max_length=2000,
                               widget="textarea")
    money_source = _lookup("money_source", "被骗资金来源", "Where the lost money came from")
    mood = _choice(MOOD_CHOICES, "情绪状态", "Emotional state", widget="radio")
    crisis_indicated = _flag("发现心理危机迹象", "Crisis indicators seen",
                             help_zh="自伤、轻生念头或严重情绪崩溃：立即启动危机干预",
                             help_en="Self-harm talk, suicidal thoughts or severe distress: "
                                     "starts the crisis escalation at once")
    risk_signs = _lookup("risk_sign", "风险迹象", "Risk signs", many=True)
    involvement = _text("涉诈行为经过（参诈涉诈）", "What the student did (involved)",
                        max_length=4000, widget="textarea")
    knowing = _choice(KNOWING_CHOICES, "是否主观故意", "Knowingly", required=False,
                      widget="radio", help_zh="参诈涉诈学生填写", help_en="For involved students")
    activity_stopped = _flag("涉诈行为是否已停止", "Activity stopped")
    accounts_cancelled = _flag("相关卡号账户是否已注销", "Cards / accounts cancelled")
    refer_psych = _flag("转介心理健康中心", "Refer to the psych centre")


class ParentContactSchema(Schema):
    """parent_contact: one attempt to contact the family (家校联系)."""

    guardian = _text("监护人", "Guardian", max_length=60, required=True)
    relation = _text("与学生关系", "Relation", max_length=30)
    channel = _choice(CHANNEL_CHOICES, "联系方式", "Channel", widget="radio")
    contacted_at = _when("联系时间", "When", required=True)
    reached = fields.Boolean(required=True, metadata=_meta("是否联系上", "Reached",
                                                           widget="radio"))
    talking_points = fields.List(
        fields.String(validate=validate.OneOf(list(TALKING_POINTS))), load_default=list,
        metadata=_meta("沟通内容", "What was said", widget="checkboxes",
                       choices={k: {"zh": v[0], "en": v[1]} for k, v in TALKING_POINTS.items()}))
    family_response = _text("家长反馈", "The family's response", max_length=2000,
                            widget="textarea")
    not_reached_reason = _text("未联系上的原因", "Why not reached", max_length=500)


class PsychAcceptSchema(Schema):
    """psych_accept: the psych centre accepts or declines a referral."""

    accept = _choice({"accept": ("接收", "Accept"), "decline": ("拒绝", "Decline")},
                     "是否接收转介", "Accept the referral", widget="radio")
    decline_reason = _text("拒绝理由", "Reason for declining", max_length=1000,
                           widget="textarea")
    first_session_at = _when("首次咨询时间", "First session", past=False)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("accept") == "decline" and not data.get("decline_reason"):
            raise ValidationError("give the reason", "decline_reason")
        if data.get("accept") == "accept" and not data.get("first_session_at"):
            raise ValidationError("give the date of the first session", "first_session_at")


class PsychDeclineDecisionSchema(Schema):
    """psych_decline_decision: the college officer closes the psych branch or re-refers."""

    decline_action = _choice({"close_branch": ("结束心理转介（案件继续）",
                                               "Close the psych branch (not the case)"),
                              "re_refer": ("重新转介", "Refer again")},
                             "处理决定", "Decision", widget="radio")
    reason = _text("理由", "Reason", max_length=1000, required=True, widget="textarea")


class CounselingSessionSchema(Schema):
    """counseling_session: one session; its notes are confidential to the psych centre."""

    session_at = _when("咨询时间", "When", required=True)
    notes = fields.String(load_default=None, validate=validate.Length(max=20000),
                          metadata=_meta("咨询记录（保密）", "Session notes (confidential)",
                                         "仅心理健康中心可见，不进入流程数据",
                                         "Only the psych centre sees them; never in the "
                                         "workflow data", widget="textarea", confidential=True))
    risk_assessment = _choice(ASSESSMENT_CHOICES, "风险评估", "Risk assessment", widget="radio",
                              help_zh="评估为“危机”将立即启动危机干预",
                              help_en="Crisis starts the crisis escalation at once")
    more_sessions = fields.Boolean(required=True, metadata=_meta(
        "是否继续咨询", "More sessions", widget="radio"))
    next_session_at = _when("下次咨询时间", "Next session", past=False)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("more_sessions") and not data.get("next_session_at"):
            raise ValidationError("give the date of the next session", "next_session_at")


class PsychSummarySchema(Schema):
    """psych_summary: what the counselor may read (the notes stay confidential)."""

    sessions_held = fields.Integer(required=True, validate=validate.Range(min=0),
                                   metadata=_meta("咨询次数", "Sessions held", widget="number"))
    status = _choice(PSYCH_STATUS_CHOICES, "目前状况", "Status", widget="radio")
    summary = _text("咨询总结（辅导员可见）", "Summary (the counselor may read it)",
                    max_length=4000, required=True, widget="textarea")


class PoliceReferralSchema(Schema):
    """police_referral: report assistance (协助报案) or the hand-over (移交核查处置)."""

    police_station = _text("报案派出所", "Police station", max_length=100, required=True)
    reported_on = _day("报案日期", "Date")
    receipt_no = _text("报案回执编号", "Report receipt number (报案回执)", max_length=60)
    case_no = _text("立案号", "Case number (立案号)", max_length=60)
    outcome = _choice(POLICE_OUTCOME_CHOICES, "结果", "Outcome")
    handed_over = _flag("已移交属地公安核查处置（参诈涉诈）",
                        "Handed over for investigation (involved)")
    handed_over_on = _day("移交日期", "Hand-over date", required=False)
    note = _text("备注", "Note", max_length=2000, widget="textarea")


class DisciplineDecisionSchema(Schema):
    """discipline_decision: recommendation and vetoes (一票否决); needs knowing participation."""

    knowing = _choice(KNOWING_CHOICES, "是否主观故意", "Knowing participation",
                      widget="radio", help_zh="处分和一票否决以主观故意为前提",
                      help_en="A sanction or veto requires knowing participation")
    level = _choice(DISCIPLINE_CHOICES, "处分建议", "Recommendation")
    vetoes = fields.List(
        fields.String(validate=validate.OneOf(list(VETO_CHOICES))), load_default=list,
        metadata=_meta("一票否决事项", "Vetoes (一票否决)", widget="checkboxes",
                       choices={k: {"zh": v[0], "en": v[1]} for k, v in VETO_CHOICES.items()}))
    reason = _text("理由", "Reason", max_length=2000, required=True, widget="textarea")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if not discipline_allowed(data.get("knowing"), data.get("level"), data.get("vetoes")):
            raise ValidationError("a sanction or veto needs knowing participation", "knowing")


class ClassLessonSchema(Schema):
    """class_lesson: the warning lesson after a case (发案即补课)."""

    held_on = _day("日期", "Date")
    scope = _choice(LESSON_SCOPE_CHOICES, "范围", "Scope", widget="radio")
    attendance = fields.Integer(required=True, validate=validate.Range(min=0),
                                metadata=_meta("参加人数", "Attendance", widget="number"))
    material = _text("使用的材料", "Material used", max_length=500, required=True)


class FollowupVisitSchema(Schema):
    """followup_visit: one follow-up visit (跟踪帮扶)."""

    visited_at = _when("回访时间", "When", required=True)
    reached_how = _choice(REACHED_CHOICES, "联系方式", "How the student was reached",
                          widget="radio")
    student_state = _choice(STUDENT_STATE_CHOICES, "学生状况", "How the student is",
                            widget="radio")
    crisis_indicated = _flag("发现心理危机迹象", "Crisis signs seen",
                             help_zh="立即启动危机干预", help_en="Starts the crisis escalation")
    risk_signs = _lookup("risk_sign", "风险迹象", "Risk signs", many=True)
    concerns = _text("需关注的问题", "Concerns", max_length=2000, widget="textarea")


class ClosureReviewSchema(Schema):
    """closure_review: approve with a closing summary, or send back to follow-up."""

    closure_decision = _choice({"approve": ("同意结案", "Approve"),
                                "send_back": ("退回继续跟踪", "Send back to follow-up")},
                               "审核意见", "Decision", widget="radio")
    closing_summary = _text("结案小结", "Closing summary", max_length=4000, widget="textarea")
    recovered_cny = _money("已追回金额（元）", "Amount recovered (CNY)",
                           default=Decimal("0.00"))
    lessons = _text("经验教训", "Lessons learned", max_length=4000, widget="textarea")
    send_back_reason = _text("退回理由", "Reason for sending back", max_length=1000,
                             widget="textarea")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("closure_decision") == "approve" and not data.get("closing_summary"):
            raise ValidationError("give the closing summary", "closing_summary")
        if data.get("closure_decision") == "send_back" and not data.get("send_back_reason"):
            raise ValidationError("give the reason", "send_back_reason")


class ApprovalSchema(Schema):
    """withdrawal_approval / downgrade_approval: the lead office approves or refuses."""

    approval = _choice(APPROVAL_CHOICES, "审批意见", "Decision", widget="radio")
    reason = _text("理由", "Reason", max_length=1000, widget="textarea",
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


# ---------------------------------------------------------------------------- script helpers
# Pure functions the BPMN scripts call. They take and return plain JSON-like values and
# never read the clock or the settings themselves.

def money(value: Any) -> str:
    """Return an amount as a decimal string with two places ("8000.00"); bad input is 0."""
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except (InvalidOperation, ValueError):
        amount = Decimal("0")
    if not amount.is_finite() or amount < 0:
        amount = Decimal("0")
    return str(amount.quantize(Decimal("0.01")))


def money_add(a: Any, b: Any) -> str:
    """Add two amounts held as decimal strings."""
    return money(Decimal(money(a)) + Decimal(money(b)))


def iso(value: Any) -> str | None:
    """Return a time as ISO 8601 text (UTC when it carries no zone), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _aware(datetime.fromisoformat(str(value))).isoformat()


def _later(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if datetime.fromisoformat(a) >= datetime.fromisoformat(b) else b


def _earlier(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if datetime.fromisoformat(a) <= datetime.fromisoformat(b) else b


def higher(a: str | None, b: str | None) -> str | None:
    """Return the higher of two risk levels (None counts as nothing)."""
    if a is None or b is None:
        return a or b
    return a if _RANK[a] >= _RANK[b] else b


def fingerprint(cf: Mapping[str, Any]) -> str:
    """The facts that can make triage rate a case higher (time passing only lowers it).

    A new fact changes it: a crisis, the fraud found still going on, a loss, a later
    transfer, a category that counts, a key-group or public-opinion sign.
    """
    keys = ("category", "loss_cny", "last_transfer_at", "crisis_events", "repeated_victim",
            "psych_watch", "hardship", "public_opinion_risk", "minor")
    parts = [f"{k}={cf.get(k)}" for k in keys]
    parts.append(f"ongoing={cf.get('ongoing') == 'yes'}")
    return "|".join(parts)


def init_case_facts(reg: Mapping[str, Any]) -> dict[str, Any]:
    """Build the case_facts data object from the registration (start) data."""
    signs = set(reg.get("risk_signs") or [])
    crisis = bool(reg.get("crisis_sign")) or bool(signs & CRISIS_SIGNS)
    category = reg.get("category") or "at_risk"
    loss = money(reg.get("loss_cny"))
    return {
        "category": category,
        "fraud_type": reg.get("fraud_type"),
        "behaviour": reg.get("behaviour"),
        "loss_cny": loss,
        "recovered_cny": "0.00",
        "money_source": reg.get("money_source"),
        "last_transfer_at": iso(reg.get("last_transfer_at")),
        "hours_since_transfer": None,
        "ongoing": reg.get("ongoing") or "unknown",
        "crisis_sign": crisis,
        "crisis_events": 1 if crisis else 0,
        "crisis_pending": crisis,
        "crisis_source": "registration" if crisis else None,
        "repeated_victim": bool(reg.get("repeated_victim")) or "repeated_victim" in signs,
        "psych_watch": bool(reg.get("psych_watch")),
        "hardship": bool(reg.get("hardship")),
        "public_opinion_risk": bool(reg.get("public_opinion_risk"))
        or "public_opinion" in signs,
        "minor": bool(reg.get("minor")),
        "happened_at": iso(reg.get("happened_at")),
        "discovered_at": iso(reg.get("discovered_at")),
        "risk_level": None,
        "risk_prev": None,
        "risk_rated": None,
        "risk_override": None,
        "override_reason": None,
        "override_facts": None,
        "flags": dict.fromkeys(FLAGS, False),
        "started": dict.fromkeys(BRANCHES, False),
        "running": {"review": True, "talk": True, **dict.fromkeys(BRANCHES, False)},
        "talk_done": False,
        "knowing": None,
        "counselor_id": None,
        "plan": None,
        "psych_state": None,
        "psych_crisis": False,
        "psych_referrals": 0,
        "sessions_held": 0,
        "last_risk_assessment": None,
        "psych_status": None,
        "stop_payment_result": None,
        "police_outcome": None,
        "discipline": None,
        "parent_reached": None,
        "followups_planned": 0,
        "followups_done": 0,
        "findings": 0,
        "downgraded": False,
        "withdraw_request": None,
        "outcome": None,
        "closing_summary": None,
        "lessons": None,
        "closed_at": None,
    }


def begin_triage(cf: dict[str, Any], hours: float | None) -> dict[str, Any]:
    """Prepare a triage run: set the hours since the last transfer, put the level aside.

    The level moves to `risk_prev` so that the triage table's rating is always a visible
    change of `risk_level` (the audit trail records what each decision gave);
    `apply_triage` then settles the level.
    """
    cf = dict(cf)
    cf["risk_prev"] = cf.get("risk_level")
    cf["risk_level"] = None
    cf["hours_since_transfer"] = None if hours is None else float(hours)
    return cf


def apply_triage(cf: dict[str, Any], flag_names: list[str] | None) -> dict[str, Any]:
    """Merge a triage run into the facts: flags are sticky, the risk only rises by itself.

    The triage table has just written its rating into `risk_level`. An officer's override
    stands unless new facts (see `fingerprint`) make triage rate the case higher.
    """
    cf = dict(cf)
    rated = cf.get("risk_level") or "yellow"
    cf["risk_rated"] = rated
    flags = dict(cf.get("flags") or {})
    for name in flag_names or []:
        if name in FLAGS:
            flags[name] = True
    cf["flags"] = flags
    override = cf.get("risk_override")
    if override:
        if _RANK[rated] > _RANK[override] and fingerprint(cf) != cf.get("override_facts"):
            cf["risk_level"] = rated
            cf["risk_override"] = None
        else:
            cf["risk_level"] = override
    else:
        cf["risk_level"] = higher(cf.get("risk_prev"), rated)
    cf["risk_prev"] = None
    return cf


def _crisis(cf: dict[str, Any], source: str) -> None:
    cf["crisis_source"] = source
    cf["crisis_sign"] = True
    cf["crisis_pending"] = True
    cf["crisis_events"] = int(cf.get("crisis_events") or 0) + 1


def merge_talk(cf: dict[str, Any], talk: Mapping[str, Any]) -> dict[str, Any]:
    """Record what the talk settled: still going on, crisis, knowing, a psych referral."""
    cf = dict(cf)
    if talk.get("ongoing") in ("yes", "no", "unknown"):
        cf["ongoing"] = talk["ongoing"]
    signs = set(talk.get("risk_signs") or [])
    if talk.get("crisis_indicated") or signs & CRISIS_SIGNS:
        _crisis(cf, "talk")
    if "public_opinion" in signs:
        cf["public_opinion_risk"] = True
    if "repeated_victim" in signs:
        cf["repeated_victim"] = True
    if talk.get("knowing"):
        cf["knowing"] = talk["knowing"]
    if talk.get("money_source") and not cf.get("money_source"):
        cf["money_source"] = talk["money_source"]
    if talk.get("refer_psych"):
        cf["flags"] = {**cf["flags"], "need_psych": True}
    cf["talk_done"] = True
    cf["running"] = {**cf["running"], "talk": False}
    return cf


def merge_finding(cf: dict[str, Any], finding: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a new finding: category may rise, losses add up, the latest transfer counts."""
    cf = dict(cf)
    finding = dict(finding or {})
    category = finding.get("category")
    if category in COUNTED and cf.get("category") == "at_risk":
        cf["category"] = category
        cf["happened_at"] = iso(finding.get("happened_at")) or cf.get("happened_at")
    elif category in COUNTED:
        cf["happened_at"] = _earlier(cf.get("happened_at"), iso(finding.get("happened_at")))
    for key in ("fraud_type", "behaviour", "money_source"):
        if finding.get(key) and not cf.get(key):
            cf[key] = finding[key]
    cf["loss_cny"] = money_add(cf.get("loss_cny"), finding.get("loss_cny"))
    cf["last_transfer_at"] = _later(cf.get("last_transfer_at"),
                                    iso(finding.get("last_transfer_at")))
    if finding.get("ongoing") in ("yes", "no"):
        cf["ongoing"] = finding["ongoing"]
    signs = set(finding.get("risk_signs") or [])
    if finding.get("crisis_sign") or signs & CRISIS_SIGNS:
        _crisis(cf, str(finding.get("source") or "finding"))
    if finding.get("public_opinion_risk") or "public_opinion" in signs:
        cf["public_opinion_risk"] = True
    if finding.get("repeated_victim") or "repeated_victim" in signs:
        cf["repeated_victim"] = True
    cf["findings"] = int(cf.get("findings") or 0) + 1
    return cf


def talk_due_key(cf: Mapping[str, Any]) -> str:
    """Return the due-time setting of the talk: 30 min while the fraud is still going on."""
    return "talk_ongoing" if cf.get("ongoing") == "yes" else "talk"


def dispatch_branches(cf: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Decide which branches start now (never one twice) and what a crisis calls for.

    Returns the facts and the list of things to start: branch names, plus `crisis`
    (notify the lead office and leaders) and `psych_urgent` (an open referral, or the
    next counseling session, is due within the crisis time) when a crisis is pending. A
    crisis (re)opens the psych referral when there is none, or it was closed after a
    decline, or it finished; a crisis the psych centre itself assessed in a session only
    notifies (the centre is already with the student).
    """
    cf = dict(cf)
    flags, started = cf.get("flags") or {}, dict(cf.get("started") or {})
    running = dict(cf.get("running") or {})
    out = []
    for branch, flag in BRANCHES.items():
        if branch in NEEDS_TALK and not cf.get("talk_done"):
            continue
        if flags.get(flag) and not started.get(branch):
            out.append(branch)
    if cf.get("crisis_pending"):
        cf["crisis_pending"] = False
        out.append("crisis")
        state = cf.get("psych_state")
        if "psych" in out or state in (None, "done", "closed"):
            cf["psych_crisis"] = True
            if "psych" not in out:
                out.append("psych")
        elif state in ("referred", "declined"):
            cf["psych_crisis"] = True
            out.append("psych_urgent")
        elif state == "counseling" and cf.get("crisis_source") != "counseling_session":
            out.append("psych_urgent")
    for branch in out:
        if branch in BRANCHES:
            started[branch] = True
            running[branch] = True
    if "psych" in out:
        cf["psych_state"] = "referred"
        cf["psych_referrals"] = int(cf.get("psych_referrals") or 0) + 1
    cf["started"], cf["running"] = started, running
    return cf, out


def finish_branch(cf: dict[str, Any], branch: str) -> dict[str, Any]:
    """Mark a branch as no longer running."""
    cf = dict(cf)
    cf["running"] = {**(cf.get("running") or {}), branch: False}
    return cf


def begin_psych(cf: dict[str, Any]) -> dict[str, Any]:
    """A referral reaches the psych centre (again, when a crisis hurries it)."""
    cf = dict(cf)
    cf["psych_state"] = "referred"
    cf["started"] = {**(cf.get("started") or {}), "psych": True}
    cf["running"] = {**(cf.get("running") or {}), "psych": True}
    return cf


def psych_decided(cf: dict[str, Any], accept: str) -> dict[str, Any]:
    """Record the psych centre's accept / decline."""
    cf = dict(cf)
    cf["psych_state"] = "counseling" if accept == "accept" else "declined"
    cf["psych_crisis"] = False
    return cf


def rerefer_psych(cf: dict[str, Any], crisis: bool) -> dict[str, Any]:
    """The college officer (or a crisis) sends a declined referral to the psych centre again."""
    cf = dict(cf)
    cf["psych_state"] = "referred"
    cf["psych_crisis"] = bool(crisis or cf.get("psych_crisis"))
    cf["psych_referrals"] = int(cf.get("psych_referrals") or 0) + 1
    return cf


def close_psych(cf: dict[str, Any]) -> dict[str, Any]:
    """The college officer closes the psych branch after a decline (not the case)."""
    cf = finish_branch(cf, "psych")
    cf["psych_state"] = "closed"
    return cf


def record_session(cf: dict[str, Any], assessment: str, more: bool) -> dict[str, Any]:
    """Count a counseling session and keep its (non-confidential) risk assessment."""
    cf = dict(cf)
    cf["sessions_held"] = int(cf.get("sessions_held") or 0) + 1
    cf["last_risk_assessment"] = assessment
    if not more:
        cf["psych_state"] = "summary"
    return cf


_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def add_duration(start: str, duration: str) -> str:
    """Return the ISO time `duration` (ISO 8601 weeks/days/time, e.g. PT1H) after `start`."""
    match = _DURATION.fullmatch(str(duration).strip().upper())
    if match is None or duration in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration (weeks, days, hours...): {duration!r}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return (_aware(datetime.fromisoformat(start)) + delta).isoformat()


def finish_psych(cf: dict[str, Any], status: str) -> dict[str, Any]:
    """The psych centre's summary ends the psych branch."""
    cf = finish_branch(cf, "psych")
    cf["psych_state"] = "done"
    cf["psych_status"] = status
    return cf


def discipline_allowed(knowing: str | None, level: str | None, vetoes: Any) -> bool:
    """A sanction or a veto requires knowing participation (主观故意)."""
    sanction = bool(level) and level != "none"
    return knowing == "yes" or not (sanction or vetoes)


def record_discipline(cf: dict[str, Any], decision: Mapping[str, Any]
                      ) -> tuple[dict[str, Any], bool]:
    """Record a discipline decision; refuse (False) a sanction or veto without knowing."""
    cf = dict(cf)
    ok = discipline_allowed(decision.get("knowing"), decision.get("level"),
                            decision.get("vetoes"))
    if ok:
        cf["knowing"] = decision.get("knowing") or cf.get("knowing")
        cf["discipline"] = {"level": decision.get("level"),
                            "vetoes": sorted(decision.get("vetoes") or [])}
        cf["running"] = {**(cf.get("running") or {}), "discipline": False}
    return cf, ok


def plan_followups(cf: dict[str, Any], visits_by_level: Mapping[str, int]) -> dict[str, Any]:
    """Set the number of follow-up visits by the risk level when the visits start."""
    cf = dict(cf)
    cf["followups_planned"] = int(visits_by_level[cf.get("risk_level") or "yellow"])
    cf["followups_done"] = 0
    return cf


def record_followup(cf: dict[str, Any]) -> dict[str, Any]:
    """Count a follow-up visit."""
    cf = dict(cf)
    cf["followups_done"] = int(cf.get("followups_done") or 0) + 1
    return cf


def add_followup(cf: dict[str, Any]) -> dict[str, Any]:
    """Closure sent back: one more follow-up visit."""
    cf = dict(cf)
    cf["followups_planned"] = int(cf.get("followups_planned") or 0) + 1
    return cf


def any_running(cf: Mapping[str, Any]) -> bool:
    """Say whether a started branch (or the review) is still running."""
    return any((cf.get("running") or {}).values())


def record_closure(cf: dict[str, Any], review: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the closing summary, amount recovered and lessons of an approved closure."""
    cf = dict(cf)
    if review.get("closure_decision") == "approve":
        cf["closing_summary"] = review.get("closing_summary")
        cf["recovered_cny"] = money(review.get("recovered_cny"))
        cf["lessons"] = review.get("lessons")
    return cf


def close_case(cf: dict[str, Any], now: str) -> dict[str, Any]:
    """The case ends closed."""
    cf = dict(cf)
    cf["outcome"] = "closed"
    cf["closed_at"] = now
    return cf


def review_outcome(cf: dict[str, Any], review: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Apply the triage review; return the facts, a downgrade request and a finding.

    Raising the level takes effect at once (it stands as the officer's level). Lowering
    it, or moving the category away from victim/involved, is a request for the lead
    office's approval when the case is victim or involved; at-risk cases change at once.
    An at-risk case corrected to victim/involved becomes a finding, so triage re-runs.
    """
    cf = dict(cf)
    cf["counselor_id"] = review.get("counselor_id")
    cf["plan"] = review.get("plan")
    cf["running"] = {**(cf.get("running") or {}), "review": False}
    request: dict[str, Any] = {}
    finding = None
    level = None if review.get("confirm_risk", True) else review.get("new_risk_level")
    reason = review.get("override_reason")
    if level and level != cf.get("risk_level"):
        lowering = _RANK[level] < _RANK[cf.get("risk_level") or "yellow"]
        if lowering and cf.get("category") in COUNTED:
            request["risk_level"] = level
        else:
            cf = _override(cf, level, reason)
            cf["downgraded"] = cf["downgraded"] or lowering
    category = review.get("new_category")
    if category and category != cf.get("category"):
        if cf.get("category") in COUNTED:
            request["category"] = category
            reason = reason or review.get("category_reason")
        else:
            finding = {"category": category, "source": "triage_review"}
    if request:
        request["reason"] = reason or review.get("category_reason")
        request["by"] = "triage_review"
        return cf, request, finding
    return cf, None, finding


def _override(cf: dict[str, Any], level: str, reason: str | None) -> dict[str, Any]:
    cf = dict(cf)
    cf["risk_override"] = level
    cf["override_reason"] = reason
    cf["risk_level"] = level
    cf["override_facts"] = fingerprint(cf)
    return cf


def needs_approval(cf: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """A downgrade of a victim or involved case needs the lead office's approval."""
    if cf.get("category") not in COUNTED:
        return False
    level = request.get("risk_level")
    lowering = bool(level) and _RANK[level] < _RANK[cf.get("risk_level") or "yellow"]
    recategorised = bool(request.get("category")) and request["category"] != cf.get("category")
    return lowering or recategorised


def apply_downgrade(cf: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Let an (approved) downgrade or correction take effect."""
    cf = dict(cf)
    level = request.get("risk_level")
    if level and level in _RANK and level != cf.get("risk_level"):
        lowering = _RANK[level] < _RANK[cf.get("risk_level") or "yellow"]
        cf = _override(cf, level, request.get("reason"))
        cf["downgraded"] = cf["downgraded"] or lowering
    category = request.get("category")
    if category in CATEGORIES and category != cf.get("category"):
        if cf.get("category") in COUNTED and category not in COUNTED:
            cf["downgraded"] = True
        cf["category"] = category
    return cf


def note_withdraw_request(cf: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the latest withdrawal request (reason, by)."""
    cf = dict(cf)
    cf["withdraw_request"] = {"reason": request.get("reason"), "by": request.get("by")}
    return cf


def withdraw_case(cf: dict[str, Any], now: str) -> dict[str, Any]:
    """The case ends as withdrawn (a false alarm); nothing is deleted."""
    cf = dict(cf)
    cf["outcome"] = "withdrawn"
    cf["closed_at"] = now
    return cf


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "money": money,
    "money_add": money_add,
    "init_case_facts": init_case_facts,
    "begin_triage": begin_triage,
    "apply_triage": apply_triage,
    "merge_talk": merge_talk,
    "merge_finding": merge_finding,
    "talk_due_key": talk_due_key,
    "dispatch_branches": dispatch_branches,
    "finish_branch": finish_branch,
    "begin_psych": begin_psych,
    "psych_decided": psych_decided,
    "rerefer_psych": rerefer_psych,
    "close_psych": close_psych,
    "record_session": record_session,
    "add_duration": add_duration,
    "finish_psych": finish_psych,
    "record_discipline": record_discipline,
    "plan_followups": plan_followups,
    "record_followup": record_followup,
    "add_followup": add_followup,
    "any_running": any_running,
    "record_closure": record_closure,
    "close_case": close_case,
    "review_outcome": review_outcome,
    "needs_approval": needs_approval,
    "apply_downgrade": apply_downgrade,
    "note_withdraw_request": note_withdraw_request,
    "withdraw_case": withdraw_case,
}
