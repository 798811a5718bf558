"""Save and load what a person typed into a task form before completing it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from caseflow import audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import TaskDraft, User
from caseflow.services import tasks


def save(task_id: int, values: dict[str, Any], user: User, actor: Actor) -> TaskDraft:
    """Keep the user's typed values of an open task (one draft per task and person)."""
    row = tasks.get_task(task_id, user)
    if row.state != "ready":
        raise tasks.already_done(row)
    draft = db.session.scalar(select(TaskDraft).where(TaskDraft.task_id == row.id,
                                                      TaskDraft.user_id == user.id))
    if draft is None:
        draft = TaskDraft(task_id=row.id, user_id=user.id, data="{}")
        db.session.add(draft)
    draft.data = json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)
    draft.saved_at = clock.now()
    filled = sorted(k for k, v in values.items() if v not in ("", None, [], False))
    # The values themselves stay out of the trail: drafts may hold confidential notes.
    audit.record("task_draft_saved", actor, case_id=row.case_id, task_id=row.id,
                 detail={"step": row.task_spec, "fields": filled})
    db.session.commit()
    return draft


def load(task_id: int, user: User) -> tuple[dict[str, Any], datetime] | None:
    """Return the user's saved values of a task and when they were saved, if any."""
    draft = db.session.scalar(select(TaskDraft).where(TaskDraft.task_id == task_id,
                                                      TaskDraft.user_id == user.id))
    if draft is None:
        return None
    return json.loads(draft.data), draft.saved_at
