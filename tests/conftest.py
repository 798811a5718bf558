"""Shared fixtures: an app on a fresh database, users, a signed-in client, simulated time."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

import workflows
from caseflow import clock, create_app
from caseflow.db import db

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"
TESTDATA = SHARED / "testdata"


def database_url(tmp: Path) -> str:
    """Return the database the suite runs on: PostgreSQL when CASEFLOW_TEST_DATABASE_URL is set."""
    return os.environ.get("CASEFLOW_TEST_DATABASE_URL") or f"sqlite:///{tmp / 'caseflow.db'}"


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Migrate one SQLite database per session; each test gets a copy (fast, and real DDL)."""
    if os.environ.get("CASEFLOW_TEST_DATABASE_URL"):
        return None
    tmp = tmp_path_factory.mktemp("template")
    app = _make_app(tmp, f"sqlite:///{tmp / 'caseflow.db'}")
    with app.app_context():
        from caseflow.services import setup

        setup.migrate_database()
        db.engine.dispose()
    return tmp / "caseflow.db"


def _make_app(tmp: Path, url: str) -> Flask:
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(tmp / "instance")
    return create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "AUDIT_KEY": "test-audit-key",
        "BPMN_DIR": str(ROOT / "bpmn"),
    })


@pytest.fixture
def app(tmp_path: Path, _template_db: Path | None) -> Iterator[Flask]:
    """An application on a fresh, migrated database."""
    if _template_db is not None:
        shutil.copy(_template_db, tmp_path / "caseflow.db")
    flask_app = _make_app(tmp_path, database_url(tmp_path))
    with flask_app.app_context():
        if _template_db is None:
            from caseflow.services import setup

            setup.migrate_database()
        yield flask_app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture(autouse=True)
def _real_time() -> Iterator[None]:
    """Every test starts and ends on real time."""
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def travel() -> SimpleNamespace:
    """Move simulated time: travel.by(hours=3)."""
    return SimpleNamespace(by=lambda **kw: clock.advance(timedelta(**kw)))


class _ReviewTest:
    """How the test process `review_test` maps lanes and forms."""

    from marshmallow import Schema, fields

    class CheckForm(Schema):
        from marshmallow import fields as _f

        needs_approval = _f.Boolean(required=True)
        note = _f.String(required=True, metadata={"label": {"zh": "说明", "en": "Note"}})

    class ApproveForm(Schema):
        from marshmallow import fields as _f

        approved = _f.Boolean(required=True)

    LANES = {"辅导员": "counselor", "学院学工办": "college_officer"}
    FORMS = {"Check": CheckForm, "Approve": ApproveForm}


@pytest.fixture
def review_process() -> Iterator[str]:
    """Register the test process `review_test` (lanes, forms) for the duration of a test."""
    workflows.register("review_test", _ReviewTest)
    yield "review_test"
    workflows.unregister("review_test")
