"""What happens when a deployed process fails at one of its elements.

The engine raises ProcessFault when a model's script, condition or decision raises or runs
too long (caseflow.engine.scripting.TIME_LIMIT). Nothing of the step may stay: `failed`
rolls the unit of work back, logs the fault, and records it in the audit trail in a commit
of its own, so the case history and the administrator see that a step could not be taken.
"""

from __future__ import annotations

import logging

from caseflow import audit
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import ProcessFault
from caseflow.services import ProcessFailed

log = logging.getLogger(__name__)


def failed(fault: ProcessFault, actor: Actor, *, case_id: int | None = None,
           task_id: int | None = None, instance_id: int | None = None,
           doing: str = "") -> ProcessFailed:
    """Roll the step back, log and audit the fault; return the error to raise."""
    db.session.rollback()
    log.error("process failed at %s (%s) while %s (case %s, task %s, instance %s): %s",
              fault.element_name or "-", fault.element_id, doing or "-", case_id or "-",
              task_id or "-", instance_id or "-", fault.reason)
    audit.record("process_failed", actor, case_id=case_id, task_id=task_id, result="error",
                 detail={"element": fault.element_id, "name": fault.element_name,
                         "reason": fault.reason, "doing": doing, "instance": instance_id})
    db.session.commit()
    return ProcessFailed(fault.element_id, fault.element_name, fault.reason)
