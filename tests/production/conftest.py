"""Fixtures for the production tests: the organisation and the deployed test processes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from caseflow.db import db
from caseflow.services import setup
from tests import factories
from tests.conftest import DATA


@pytest.fixture
def people(app, review_process) -> SimpleNamespace:
    """The test organisation plus a second counselor of class 1 and a second officer of
    college 1, with review_test and the real processes deployed."""
    org = factories.org()
    org.counselor1b = factories.user("counselor1b", "counselor", college=org.college1,
                                     classes=(org.class1,))
    org.officer1b = factories.user("officer1b", "college_officer", college=org.college1)
    db.session.commit()
    setup.seed_reference_data()
    setup.deploy_processes(by="test")
    setup.deploy_sources({"review_test.bpmn": (DATA / "review_test.bpmn").read_bytes()},
                         "test")
    return org
