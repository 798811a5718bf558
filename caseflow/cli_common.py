"""What the command groups share: an app context, and the wording of refusals."""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click
from flask import Flask
from sqlalchemy.exc import DBAPIError, OperationalError

if TYPE_CHECKING:
    from caseflow.audit import Actor


@contextmanager
def app_context() -> Iterator[Flask]:
    """Build the app, work in its context, and close its connections afterwards."""
    from caseflow import create_app
    from caseflow.db import db

    app = create_app()
    remember_database(app)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def remember_database(app: Flask) -> None:
    """Note the app's database URL, for `database_error` to name it."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta["caseflow_db_url"] = app.config["SQLALCHEMY_DATABASE_URI"]


def database_error(exc: DBAPIError) -> NoReturn:
    """Say which database (password hidden) could not be opened, or refused, and why;
    exit 2."""
    from caseflow.dbcheck import describe_url, trouble
    from caseflow.syncstandby import StandbyMissing

    ctx = click.get_current_context(silent=True)
    where = describe_url((ctx.meta.get("caseflow_db_url") if ctx is not None else None) or "?")
    if not isinstance(exc, OperationalError):  # reached, but it refused: read-only, say
        click.echo(f"error: the database {where} {trouble(exc)}", err=True)
        sys.exit(2)
    reason = str(exc.orig) if exc.orig is not None else str(exc)
    verb = "cannot write to" if isinstance(exc.orig, StandbyMissing) else "cannot open"
    click.echo(f"error: {verb} the database {where}: {reason}", err=True)
    sys.exit(2)


def os_user() -> str:
    """Return the operating-system user running the command ("unknown" if it has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cli_actor(role: str | None = "admin") -> Actor:
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
            except DBAPIError as exc:
                database_error(exc)
            except Exception as exc:
                lines = explain(exc, extra or {})
                if lines is None:
                    raise
                for line in lines:
                    click.echo(line, err=True)
                sys.exit(1)

        return wrapper

    return decorate


def explain(exc: Exception, extra: dict[type[Exception], Explain]) -> list[str] | None:
    """Return the lines that word a refusal, or None if `exc` is not one."""
    from caseflow.services import ServiceError, ValidationFailed

    for kind, word in extra.items():
        if isinstance(exc, kind):
            return word(exc)
    if isinstance(exc, ValidationFailed):
        return [f"refused: {field}: {' '.join(map(str, messages))}"
                for field, messages in exc.errors.items()]
    if isinstance(exc, ServiceError):
        return [f"refused: {exc}"]
    return None
