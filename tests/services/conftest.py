"""Shared by the services tests: a review process deployed in a healthy and a broken version.

The broken version is the review test process with two mistakes an administrator could
make: the gateway after "Check" turns the note into a number (so its error quotes the
note), and the escalation after "CheckLate" is a script whose loop never ends.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow import audit
from caseflow.db import db
from caseflow.engine import scripting
from caseflow.models import TaskRow
from caseflow.services import runner, setup
from tests import factories
from tests.conftest import DATA

ACTOR = audit.Actor(None, "test")
LOOP = "n = 0\nwhile n &gt;= 0:\n    n += 1"


def _broken_model() -> bytes:
    text = (DATA / "review_test.bpmn").read_text(encoding="utf-8")
    text = text.replace(">needs_approval == True<",
                        ">needs_approval == True and int(note) &gt; 0<")
    text = re.sub(
        r'<bpmn:intermediateThrowEvent id="Escalate".*?</bpmn:intermediateThrowEvent>',
        f'<bpmn:scriptTask id="Escalate" name="核查超时升级"><bpmn:incoming>F4</bpmn:incoming>'
        f'<bpmn:outgoing>F8</bpmn:outgoing><bpmn:script>{LOOP}</bpmn:script></bpmn:scriptTask>',
        text, flags=re.S)
    assert "int(note)" in text and "<bpmn:scriptTask id=\"Escalate\"" in text
    return text.encode()


@pytest.fixture
def broken(app, review_process, monkeypatch):
    """A healthy instance (first version) and a broken one (second version), both on
    counselor1's Check step."""
    monkeypatch.setattr(scripting, "TIME_LIMIT", 0.05)
    people = factories.org()
    setup.deploy_sources({"review_test.bpmn": (DATA / "review_test.bpmn").read_bytes()}, "t")
    people.healthy = runner.start_instance("review_test", {"level": "red"}, ACTOR).instance
    setup.deploy_sources({"review_test.bpmn": _broken_model()}, "t")
    people.broken = runner.start_instance("review_test", {"level": "red"}, ACTOR).instance
    for row in db.session.scalars(select(TaskRow)):
        row.assignee_id = people.counselor1.id
    db.session.commit()
    people.task = db.session.scalar(select(TaskRow).where(
        TaskRow.instance_id == people.broken.id))
    return people
