"""The `screening_round` process (学院摸排审核): a college's part of a screening round.

One small instance per college in a round's scope: the college officer reviews the
college's round (every class done, students not reached followed up, flagged students
filed), due `screening_review` after the round's due date; overdue → the lead office.
The class screenings themselves are `class_screening` instances, one per class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate

from workflows.common import add_duration, meta, text

PROCESS_ID = "screening_round"

LANES: dict[str, str] = {"学院学工办": "college_officer"}

TASK = "round_review"

# The prepare script reads round_due_at by name.
START_KEYS: tuple[str, ...] = ("round_id", "round_no", "college_id", "college_code",
                               "round_due_at")


class RoundReviewSchema(Schema):
    """round_review: the college officer reviews the college's round."""

    reviewed = fields.Boolean(required=True, validate=validate.Equal(True), metadata=meta(
        "已审核本学院各班摸排情况", "I reviewed every class's screening", widget="boolean"))
    issues = text("发现的问题", "Problems found", max_length=2000, widget="textarea")
    actions = text("整改与跟进安排", "Follow-up actions", max_length=2000, widget="textarea")


FORMS: dict[str, type[Schema]] = {TASK: RoundReviewSchema}
# The review also notes who reviewed the college's round when (a service, not the workflow).
COMPLETED_BY = {TASK: "caseflow.services.screening:review_round"}

FUNCTIONS: dict[str, Callable[..., Any]] = {"add_duration": add_duration}
