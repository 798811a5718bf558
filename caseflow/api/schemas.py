"""Marshmallow schemas of the API's requests and answers (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workflows.fraud_case import RegistrationSchema
from workflows.warning_dissuasion import WarningSchema

ID = validate.Range(min=1, max=2**31 - 1)


class ErrorSchema(Schema):
    """Every error answer."""

    code = fields.String(required=True, metadata={
        "description": "Machine-readable: unauthorized, not_found, conflict, "
                       "validation_failed, idempotency_key_reused, …"})
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Field → messages (422 only)"})


class PageQuery(Schema):
    """Which page of a list."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageMeta(Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


# -- warnings ---------------------------------------------------------------------------

class WarningIn(WarningSchema):
    """A police warning, as the police system sends it."""


class WarningOut(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    state = fields.String(required=True, metadata={
        "description": "unmatched, candidates, matched, …"})
    student_id = fields.Integer(allow_none=True)
    match_method = fields.String(allow_none=True)


# -- registration ---------------------------------------------------------------------------

class RegistrationIn(RegistrationSchema):
    """A finding about a student: opens a case, or joins the student's open case."""

    student_id = fields.Integer(load_default=None, validate=ID,
                                metadata={"description": "The student's id (or student_no)"})
    student_no = fields.String(load_default=None, validate=validate.Length(min=1, max=30),
                               metadata={"description": "The student number (or student_id)"})

    @validates_schema
    def _one_student(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("student_id") and not data.get("student_no"):
            raise ValidationError("give student_id or student_no", "student_id")


class CaseRef(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    state = fields.String(required=True)


class RegistrationOut(Schema):
    opened = fields.Boolean(required=True, metadata={
        "description": "true: a new case (201); false: added to the open case (200)"})
    case = fields.Nested(CaseRef, required=True)


# -- tasks ------------------------------------------------------------------------------------

class TaskOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    step = fields.String(required=True)
    process_id = fields.String(required=True)
    state = fields.String(required=True)
    role = fields.String(allow_none=True)
    case_id = fields.Integer(allow_none=True)
    case_number = fields.String(allow_none=True)
    student = fields.String(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    due_at = fields.AwareDateTime(allow_none=True)
    overdue = fields.Boolean()
    completed_at = fields.AwareDateTime(allow_none=True)


class TaskList(Schema):
    items = fields.List(fields.Nested(TaskOut), required=True)
    meta = fields.Nested(PageMeta, required=True)


class Label(Schema):
    zh = fields.String(required=True)
    en = fields.String(required=True)


class Choice(Schema):
    value = fields.String(required=True)
    label = fields.Nested(Label, required=True)


class FormFieldOut(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={
        "description": "string, integer, number, decimal, boolean, date, datetime, array"})
    widget = fields.String(required=True)
    required = fields.Boolean(required=True)
    label = fields.Nested(Label, required=True)
    help = fields.Nested(Label, allow_none=True)
    choices = fields.List(fields.Nested(Choice), required=True)
    max_length = fields.Integer(allow_none=True)
    confidential = fields.Boolean(required=True)


class TaskDetail(TaskOut):
    form = fields.List(fields.Nested(FormFieldOut), required=True)


class CompleteIn(Schema):
    data = fields.Dict(keys=fields.String(), required=True, metadata={
        "description": "The step's form values, as its form schema describes them"})


class CompleteOut(Schema):
    task = fields.Nested(TaskOut, required=True)


# -- cases ------------------------------------------------------------------------------------

class CaseQueryIn(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["open", "closed", "withdrawn"]))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=30))
    risk = fields.String(load_default=None, validate=validate.Length(min=1, max=10))
    college = fields.Integer(load_default=None, validate=ID)
    q = fields.String(load_default=None, validate=validate.Length(max=50))


class CaseRow(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    state = fields.String(required=True)
    category = fields.String(allow_none=True)
    risk_level = fields.String(allow_none=True)
    registered_at = fields.AwareDateTime(allow_none=True)
    student = fields.String(required=True)
    student_no = fields.String(required=True)
    college = fields.String(required=True)
    klass = fields.String(required=True, data_key="class")


class CaseList(Schema):
    items = fields.List(fields.Nested(CaseRow), required=True)
    meta = fields.Nested(PageMeta, required=True)


class Item(Schema):
    label = fields.String(required=True)
    text = fields.String(required=True)
    kind = fields.String(allow_none=True, metadata={
        "description": "masked or confidential when the value was held back"})


class FindingOut(Schema):
    created_at = fields.AwareDateTime(allow_none=True)
    items = fields.List(fields.Nested(Item), required=True)


class StepOut(TaskOut):
    items = fields.List(fields.Nested(Item), required=True)


class StudentOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    student_no = fields.String(required=True)
    phone = fields.String(allow_none=True, metadata={"description": "masked"})
    id_card = fields.String(allow_none=True, metadata={"description": "masked"})


class CaseDetail(CaseRow):
    flags = fields.Dict(keys=fields.String(), values=fields.Raw())
    counselor = fields.String(allow_none=True)
    student_info = fields.Nested(StudentOut, required=True, data_key="student_detail")
    findings = fields.List(fields.Nested(FindingOut), required=True)
    steps = fields.List(fields.Nested(StepOut), required=True)


class LangQuery(Schema):
    lang = fields.String(load_default=None, validate=validate.OneOf(["zh_CN", "en"]))
