"""The fraud_case forms' lists: the editable seed lists and the fixed choices."""

from __future__ import annotations

from typing import Any


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
