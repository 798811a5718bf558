"""SQLAlchemy models, one module per area."""

from caseflow.models.audit import AuditEvent, AuditHead
from caseflow.models.cases import Case, Finding, Lookup, Notification, Setting
from caseflow.models.confidential import ConfidentialNote
from caseflow.models.discovery import (
    PoliceWarning,
    ScreeningClass,
    ScreeningCollege,
    ScreeningEntry,
    ScreeningRound,
    WarningCandidate,
)
from caseflow.models.drafts import TaskDraft
from caseflow.models.engine import (
    ProcessCurrent,
    ProcessVersion,
    TaskRow,
    TimerRow,
    WorkerBeat,
    WorkflowInstance,
)
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
    "Finding", "Guardian", "Klass", "Lookup", "Notification", "ProcessCurrent", "ProcessVersion",
    "School", "Setting",
    "Student", "TaskDraft", "TaskRow", "TimerRow", "User", "UserRole", "WorkerBeat",
    "WorkflowInstance",
    "PoliceWarning", "ScreeningClass", "ScreeningCollege", "ScreeningEntry", "ScreeningRound",
    "WarningCandidate",
]

from caseflow.models.security import (  # security models (issue 5)
    ApiToken,
    LoginSession,
    LoginThrottle,
    TotpCredential,
    TotpRequiredRole,
)

__all__ += ["ApiToken", "LoginSession", "LoginThrottle", "TotpCredential", "TotpRequiredRole"]
from caseflow.models.reports import IssuedBrief  # noqa: E402

__all__ += ["IssuedBrief"]

from caseflow.models.idempotency import ApiIdempotency, SubmissionToken  # noqa: E402

__all__ += ["ApiIdempotency", "SubmissionToken"]
