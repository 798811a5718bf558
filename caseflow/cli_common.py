"""What the command groups share: an app context, and the wording of refusals."""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import OperationalError


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


def os_user() -> str:
    """Return the operating-system user running the command ("unknown" if it has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cli_actor(role: str | None = "admin") -> Any:
    """Return the audit actor of a command run on the server: `cli:<os user>`."""
    from caseflow.audit import Actor

    return Actor(None, f"cli:{os_user()}", role, None, "caseflow-cli")


Explain = Callable[[Exception], list[str]]


def refusals(extra: dict[type[Exception], Explain] | None = None
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a refusal into its reasons (exit 1) and an unreadable database into exit 2.

    `extra` words particular refusals (checked first, in order); otherwise a refused
    field lists its messages and any other service refusal is one line.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                reason = str(exc.orig) if exc.orig is not None else str(exc)
                click.echo(f"error: cannot open the database: {reason}", err=True)
                sys.exit(2)
            except Exception as exc:
                lines = _explain(exc, extra or {})
                if lines is None:
                    raise
                for line in lines:
                    click.echo(line, err=True)
                sys.exit(1)

        return wrapper

    return decorate


def _explain(exc: Exception, extra: dict[type[Exception], Explain]) -> list[str] | None:
    from caseflow.services import ServiceError, ValidationFailed

    for kind, explain in extra.items():
        if isinstance(exc, kind):
            return explain(exc)
    if isinstance(exc, ValidationFailed):
        return [f"refused: {field}: {' '.join(map(str, messages))}"
                for field, messages in exc.errors.items()]
    if isinstance(exc, ServiceError):
        return [f"refused: {exc}"]
    return None
