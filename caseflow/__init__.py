"""caseflow: BPMN-driven case management for schools' anti-telecom-fraud work."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate

from caseflow import config as _config
from caseflow.db import db, keep_prepared_statements, set_timeouts
from caseflow.dbcheck import watch_later_servers
from caseflow.syncstandby import refuse_commits_that_would_wait

__all__ = ["create_app", "db"]

migrate = Migrate()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application: config, database, i18n, login, blueprints, CLI."""
    instance = Path(os.environ.get("CASEFLOW_INSTANCE_PATH") or _config.ROOT / "instance")
    app = Flask(
        __name__,
        instance_path=str(instance.resolve()),
        template_folder=str(_config.ROOT / "templates"),
    )
    app.config.update(_config.build(Path(app.instance_path), config, os.environ))
    _prepare_sqlite_dir(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            keep_prepared_statements(engine)
            set_timeouts(engine, app.config["DB_LOCK_TIMEOUT_SECONDS"],
                         app.config["DB_IDLE_IN_TRANSACTION_SECONDS"],
                         app.config["DB_STATEMENT_TIMEOUT_SECONDS"],
                         connect_seconds=app.config["DB_CONNECT_TIMEOUT_SECONDS"],
                         network_seconds=app.config["DB_NETWORK_TIMEOUT_SECONDS"])
            watch_later_servers(engine)
            refuse_commits_that_would_wait(engine)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))

    from caseflow import web

    web.init_app(app)
    from caseflow.cli import register

    register(app)
    return app


def _prepare_sqlite_dir(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if folder == Path(app.instance_path):
            folder.mkdir(parents=True, exist_ok=True)
