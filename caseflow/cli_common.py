"""What the command groups share: an app context that closes its connections afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask


@contextmanager
def app_context() -> Iterator[Flask]:
    """Build the app, work in its context, and close its connections afterwards."""
    from caseflow import create_app
    from caseflow.db import db

    app = create_app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
