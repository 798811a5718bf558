"""Shared fixtures: an app on a fresh database, users, a signed-in client, simulated time."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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


# Every engine pass of every test also walks the task tree and compares (engine/stepping.py).
os.environ.setdefault("CASEFLOW_ENGINE_CHECK", "1")

PG_SERVER = os.environ.get("CASEFLOW_TEST_DATABASE_URL")  # a PostgreSQL server URL, or none


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests about the other database (not skip them: a skip would hide a gap)."""
    running = "postgresql" if PG_SERVER else "sqlite"
    other = [item for item in items
             if (mark := item.get_closest_marker("database")) and mark.args[0] != running]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]


def unavailable(problem: str) -> None:
    """Stop a test whose browser or database is missing: fail under CI, else skip."""
    if os.environ.get("CI"):
        pytest.fail(f"cannot run: {problem}")
    pytest.skip(problem)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(text(sql))
    engine.dispose()


def _pg_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate one template database per worker; each test gets a copy (fast, real DDL)."""
    tmp = tmp_path_factory.mktemp("template")
    if PG_SERVER:
        name = f"cf_template_{_worker()}"
        _pg_admin(f"DROP DATABASE IF EXISTS {name}")
        _pg_admin(f"CREATE DATABASE {name}")
        url = _pg_url(name)
    else:
        url = f"sqlite:///{tmp / 'caseflow.db'}"
    app = _make_app(tmp, url)
    with app.app_context():
        from caseflow.services import setup

        setup.migrate_database()
        db.engine.dispose()
    return name if PG_SERVER else str(tmp / "caseflow.db")


_counter = iter(range(1, 1_000_000))


def _fresh_database(template: str, tmp: Path) -> tuple[str, str | None]:
    """Copy the template; return the URL and (PostgreSQL) the database to drop afterwards."""
    if not PG_SERVER:
        shutil.copy(template, tmp / "caseflow.db")
        return f"sqlite:///{tmp / 'caseflow.db'}", None
    name = f"cf_test_{_worker()}_{next(_counter)}"
    _pg_admin(f"DROP DATABASE IF EXISTS {name}")
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    return _pg_url(name), name


def _make_app(tmp: Path, url: str, **extra: Any) -> Flask:
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(tmp / "instance")
    return create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "AUDIT_KEY": "test-audit-key",
        "BPMN_DIR": str(ROOT / "bpmn"),
        **extra,
    })


@pytest.fixture
def app(tmp_path: Path, _template_db: str) -> Iterator[Flask]:
    """An application on a fresh, migrated database (SQLite, or PostgreSQL when configured)."""
    url, to_drop = _fresh_database(_template_db, tmp_path)
    flask_app = _make_app(tmp_path, url)
    with flask_app.app_context():
        yield flask_app
        db.session.remove()
        db.engine.dispose()
    if to_drop:
        _pg_admin(f"DROP DATABASE IF EXISTS {to_drop} WITH (FORCE)")  # a CLI test may linger


class IsolatedClient(FlaskClient):
    """A client whose every request runs in its own app context (own g, own DB session).

    Tests keep an app context open to use the database; without this, requests would share
    its `g` (the signed-in user, the locale) and its session, unlike in production.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app (each request isolated like in production)."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def cli_database(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app a `caseflow` command makes for itself at the test's database and keys."""
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("CASEFLOW_AUDIT_KEY", app.config["AUDIT_KEY"])
    monkeypatch.setenv("CASEFLOW_SECRET_KEY", app.config["SECRET_KEY"])


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


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form in a page."""
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def page_form(client: FlaskClient, url: str, **data: str) -> dict[str, str]:
    """Open the form at `url` and return what a browser submits: its CSRF and one-time
    tokens, and `data`."""
    import re

    html = client.get(url).get_data(as_text=True)
    found = re.search(r'name="submission_token" value="([^"]+)"', html)
    assert found, f"the form at {url} carries no one-time token"
    return {"csrf_token": csrf_token(html), "submission_token": found.group(1), **data}


def login(client: FlaskClient, username: str, password: str | None = None):
    """Sign in through the real form (CSRF included); return the response."""
    from tests.factories import PASSWORD

    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password or PASSWORD,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})
