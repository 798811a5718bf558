"""SQLAlchemy models, one module per area."""

from caseflow.models.audit import AuditEvent, AuditHead
from caseflow.models.cases import Case, Finding, Lookup, Notification, Setting
from caseflow.models.confidential import ConfidentialNote
from caseflow.models.drafts import TaskDraft
from caseflow.models.engine import ProcessVersion, TaskRow, TimerRow, WorkflowInstance
from caseflow.models.org import (
    College,
    CounselorClass,
    Dorm,
    Guardian,
    Klass,
    School,
    Student,
    User,
    UserRole,
)

__all__ = [
    "AuditEvent", "AuditHead", "Case", "College", "ConfidentialNote", "CounselorClass", "Dorm",
    "Finding", "Guardian", "Klass", "Lookup", "Notification", "ProcessVersion", "School", "Setting",
    "Student", "TaskDraft", "TaskRow", "TimerRow", "User", "UserRole", "WorkflowInstance",
]
