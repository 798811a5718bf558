"""A world for the API tests: the real processes and the referral test process deployed.

Case A (student1, class1 / college1, counselor1's) and case C (student3, class3 /
college2, counselor3's) each wait on their counselor's "Talk" step.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from caseflow.db import db
from caseflow.models import TaskRow
from caseflow.services import api_tokens
from tests import factories
from tests.security.conftest import referral  # noqa: F401  (a fixture)
from tests.views import support


def ready(case_id: int, spec: str = "Talk") -> TaskRow:
    """Return the open step `spec` of a case."""
    return db.session.scalar(select(TaskRow).where(TaskRow.case_id == case_id,
                                                   TaskRow.task_spec == spec,
                                                   TaskRow.state == "ready"))


@pytest.fixture
def w(app, referral) -> SimpleNamespace:  # noqa: F811
    """The API world (see the module docstring)."""
    people = factories.deployed_org()
    support.deploy()
    people.a = support.open_case(people.student1, counselor_id=people.counselor1.id)
    people.c = support.open_case(people.student3, counselor_id=people.counselor3.id)
    people.talk_a, people.talk_c = ready(people.a.id), ready(people.c.id)
    return people


def bearer(user, *roles: str) -> dict[str, str]:
    """Issue a token for `user` (limited to `roles`, else all theirs); return the header."""
    _row, token = api_tokens.issue(user.id, f"test {user.username}",
                                   roles or user.role_names, support.ACTOR)
    return {"Authorization": f"Bearer {token}"}
