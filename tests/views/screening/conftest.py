"""The school the screening screens are tried on."""

from __future__ import annotations

import pytest

from caseflow.db import db
from caseflow.services import setup
from tests import factories


@pytest.fixture
def world(app):
    setup.seed_reference_data()
    setup.deploy_processes(by="test")
    ns = factories.org()
    ns.more = [factories.student(f"20240001{n:02d}", f"学生{n}", ns.class1, phone=None,
                                 id_card=None) for n in range(2, 5)]
    db.session.commit()
    return ns
