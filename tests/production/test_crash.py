"""SIGKILL a process completing tasks, ten times over a hundred completions (the small
version of bench/crash.py): no completion lost or doubled, task rows match the workflow
state, and `caseflow audit verify` passes."""

from __future__ import annotations

import re
import subprocess
import sys

from sqlalchemy import func, select

from caseflow import audit
from caseflow.db import db
from caseflow.models import AuditEvent, TaskRow, WorkflowInstance
from tests.conftest import ROOT
from tests.production.support import rows_match_state


def test_completions_survive_repeated_kills_mid_transaction(app, review_process):
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "crash.py"), "--database-url", url,
                          "--completions", "100", "--kills", "10"],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "invariants: all hold" in run.stdout
    assert "caseflow audit verify: exit 0" in run.stdout
    acknowledged = int(re.search(r"\((\d+) acknowledged\)", run.stdout).group(1))
    kills = int(re.search(r"(\d+) SIGKILLs", run.stdout).group(1))
    assert acknowledged >= 100 and kills >= 10
    # and seen from here, independently of the bench's own checks
    for instance_id in db.session.scalars(select(WorkflowInstance.id)):
        rows_match_state(instance_id)
    completed = db.session.scalar(select(func.count(TaskRow.id))
                                  .where(TaskRow.state == "completed"))
    assert completed == db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == "task_completed"))
    assert audit.verify(db.session).ok
