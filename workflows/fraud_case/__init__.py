"""The `fraud_case` process (涉诈学生个案处置): forms, lanes, seed lists and script helpers.

`bpmn/fraud_case.bpmn` decides the order of the steps; this package describes what each
human step asks for (`forms`: one marshmallow schema per user task), which role works in
which lane and the other names the app and the model share (`keys`), the editable lists
the forms use, seeded into the database (`lists`), and the few pure functions the BPMN
scripts call to merge facts into the `case_facts` data object (`facts`, `branches`).
Everything is re-exported here, so `workflows.fraud_case` describes the process as
`workflows` expects.

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

from collections.abc import Callable
from typing import Any

from workflows.common import MONEY_MAX, add_duration, not_future, not_past
from workflows.fraud_case.branches import (
    add_followup,
    any_running,
    apply_downgrade,
    begin_psych,
    close_case,
    close_psych,
    discipline_allowed,
    finish_psych,
    needs_approval,
    note_withdraw_request,
    plan_followups,
    psych_decided,
    record_closure,
    record_discipline,
    record_followup,
    record_session,
    rerefer_psych,
    review_outcome,
    withdraw_case,
)
from workflows.fraud_case.facts import (
    apply_triage,
    begin_triage,
    dispatch_branches,
    fingerprint,
    finish_branch,
    higher,
    init_case_facts,
    iso,
    merge_finding,
    merge_talk,
    money,
    money_add,
    talk_due_key,
)
from workflows.fraud_case.forms import (
    FORMS,
    REGISTRATION,
    ApprovalSchema,
    ClassLessonSchema,
    ClosureReviewSchema,
    CounselingSessionSchema,
    DisciplineDecisionSchema,
    FollowupVisitSchema,
    MajorAckSchema,
    ParentContactSchema,
    PoliceReferralSchema,
    PsychAcceptSchema,
    PsychDeclineDecisionSchema,
    PsychSummarySchema,
    RegistrationSchema,
    StopPaymentSchema,
    TalkSchema,
    TriageReviewSchema,
)
from workflows.fraud_case.keys import (
    BRANCHES,
    CASE_FACTS_KEYS,
    CATEGORIES,
    COUNTED,
    FLAGS,
    LANES,
    MESSAGES,
    MESSAGES_ZH,
    NEEDS_TALK,
    PROCESS_ID,
    RANK,
    RISK_LEVELS,
    START_KEYS,
    TASK_KEYS,
)
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
    LOOKUPS,
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

__all__ = [
    "APPROVAL_CHOICES", "ASSESSMENT_CHOICES", "ApprovalSchema", "BRANCHES", "CASE_FACTS_KEYS",
    "CATEGORIES", "CATEGORY_CHOICES", "CHANNEL_CHOICES", "COUNTED", "CRISIS_SIGNS",
    "ClassLessonSchema", "ClosureReviewSchema", "CounselingSessionSchema",
    "DISCIPLINE_CHOICES", "DisciplineDecisionSchema", "FLAGS", "FORMS", "FREEZE_CHOICES",
    "FUNCTIONS", "FollowupVisitSchema", "KNOWING_CHOICES", "LANES", "LESSON_SCOPE_CHOICES",
    "LOOKUPS", "MESSAGES", "MESSAGES_ZH", "MONEY_MAX", "MOOD_CHOICES", "MajorAckSchema",
    "NEEDS_TALK", "ONGOING_CHOICES", "POLICE_OUTCOME_CHOICES", "PROCESS_ID",
    "PSYCH_STATUS_CHOICES", "ParentContactSchema", "PoliceReferralSchema", "PsychAcceptSchema",
    "PsychDeclineDecisionSchema", "PsychSummarySchema", "RANK", "REACHED_CHOICES",
    "REGISTRATION", "RISK_CHOICES", "RISK_LEVELS", "RegistrationSchema", "START_KEYS",
    "STUDENT_STATE_CHOICES", "StopPaymentSchema", "TALKING_POINTS", "TASK_KEYS", "TalkSchema",
    "TriageReviewSchema", "VETO_CHOICES", "add_duration", "add_followup", "any_running",
    "apply_downgrade", "apply_triage", "begin_psych", "begin_triage", "close_case",
    "close_psych", "discipline_allowed", "dispatch_branches", "fingerprint", "finish_branch",
    "finish_psych", "higher", "init_case_facts", "iso", "merge_finding", "merge_talk", "money",
    "money_add", "needs_approval", "not_future", "not_past", "note_withdraw_request",
    "plan_followups", "psych_decided", "record_closure", "record_discipline",
    "record_followup", "record_session", "rerefer_psych", "review_outcome", "talk_due_key",
    "withdraw_case",
]
