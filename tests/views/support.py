"""A small test process with a counselor talk and a psych-centre referral, and helpers."""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from caseflow import audit, clock, timefmt
from caseflow.db import db
from caseflow.models import Case, Student
from caseflow.services import runner, setup
from tests import factories
from tests.conftest import DATA

PROCESS = "referral_test"
ACTOR = audit.Actor(None, "test")


def _label(zh: str, en: str, **extra: object) -> dict:
    return {"label": {"zh": zh, "en": en}, **extra}


class TalkForm(Schema):
    reached_how = fields.String(
        required=True, validate=validate.OneOf(["in_person", "phone", "video"]),
        metadata=_label("联系方式", "How reached", widget="radio",
                        choices={"in_person": {"zh": "当面", "en": "In person"},
                                 "phone": {"zh": "电话", "en": "Phone"},
                                 "video": {"zh": "视频", "en": "Video"}}))
    talked_at = fields.AwareDateTime(required=True, default_timezone=UTC,
                                     metadata=_label("谈话时间", "When", widget="datetime"))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                         metadata=_label("事情经过", "What happened", widget="textarea"))
    bank_account = fields.String(load_default=None, validate=validate.Length(max=40),
                                 metadata=_label("银行账户", "Bank account",
                                                 sensitive="bank_account"))
    refer = fields.Boolean(load_default=False,
                           metadata=_label("转介心理健康中心", "Refer to the psych centre",
                                           widget="boolean"))


class AcceptForm(Schema):
    accept = fields.String(
        required=True, validate=validate.OneOf(["accept", "decline"]),
        metadata=_label("是否接收转介", "Accept the referral", widget="radio",
                        choices={"accept": {"zh": "接收", "en": "Accept"},
                                 "decline": {"zh": "拒绝", "en": "Decline"}}))
    decline_reason = fields.String(load_default=None, validate=validate.Length(max=500),
                                   metadata=_label("拒绝理由", "Reason", widget="textarea"))

    @validates_schema
    def _check(self, data: dict, **_: object) -> None:
        if data.get("accept") == "decline" and not data.get("decline_reason"):
            raise ValidationError("give the reason", "decline_reason")


class SessionForm(Schema):
    notes = fields.String(load_default=None, validate=validate.Length(max=5000),
                          metadata=_label("咨询记录（保密）", "Notes (confidential)",
                                          widget="textarea", confidential=True))
    risk_assessment = fields.String(
        required=True, validate=validate.OneOf(["low", "high"]),
        metadata=_label("风险评估", "Risk assessment", widget="radio"))


class Referral:
    """How the test process maps lanes and forms."""

    LANES = {"辅导员": "counselor", "心理健康中心": "psych_center"}
    FORMS = {"Talk": TalkForm, "Accept": AcceptForm, "Session": SessionForm}
    MESSAGES_ZH = {"give the reason": "请填写理由"}


def deploy() -> None:
    """Deploy the referral test process (register its workflows module first)."""
    setup.deploy_sources({"referral_test.bpmn": (DATA / "referral_test.bpmn").read_bytes()},
                         "test")


def open_case(student: Student, *, counselor_id: int | None, risk: str = "red",
              category: str = "victim", registered_by: int | None = None) -> Case:
    """Open a case of the referral test process for `student` (the way the app does)."""
    now = clock.now()
    klass = student.klass
    case = Case(number="", process_id=PROCESS, student_id=student.id,
                college_id=klass.college_id, class_id=student.class_id,
                counselor_id=counselor_id, registered_by=registered_by, category=category,
                risk_level=risk, state="open", registered_at=now, flags="{}")
    db.session.add(case)
    db.session.flush()
    case.number = f"AF{timefmt.local(now):%Y}{case.id:06d}"
    audit.record("case_opened", ACTOR, case_id=case.id, detail={"number": case.number})
    runner.start_instance(PROCESS, {"level": risk}, ACTOR, case=case)
    db.session.commit()
    return case


def world() -> SimpleNamespace:
    """The test organisation, the lists, and the referral process deployed."""
    people = factories.org()
    setup.seed_reference_data()
    deploy()
    return people
