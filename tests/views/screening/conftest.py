"""The school the screening screens are tried on."""

from __future__ import annotations

import pytest

from caseflow.db import db
from tests import factories


@pytest.fixture
def world(app):
    ns = factories.deployed_org()
    ns.more = factories.classmates(ns.class1, range(2, 5))
    db.session.commit()
    return ns
