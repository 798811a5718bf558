"""`caseflow users …`: accounts, roles, passwords, second factors and API tokens (audited).

The command line is the administrator's tool on the server itself; every change is an
audit event with the operating-system user as the actor.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import click
from sqlalchemy import select

from caseflow.cli_common import app_context as _app_context
from caseflow.cli_common import cli_actor
from caseflow.models.org import ROLES

ROLE = click.Choice(ROLES)


def _user(username: str) -> Any:
    from caseflow.db import db
    from caseflow.models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        click.echo(f"error: no user {username!r}", err=True)
        sys.exit(1)
    return user


def _refused(exc: Exception) -> None:
    errors = getattr(exc, "errors", {}) or {"": [str(exc)]}
    for field, messages in errors.items():
        click.echo(f"refused: {field}: {' '.join(messages)}", err=True)
    sys.exit(1)


def _new_password(username: str) -> str:
    from caseflow.services import auth

    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    problems = auth.password_problems(password, username)
    if problems:
        _refused(auth.ValidationFailed({"password": [auth.PROBLEMS[p] for p in problems]}))
    return password


@click.group("users")
def users_group() -> None:
    """Manage accounts, roles, passwords, second factors and API tokens."""


@users_group.command("list")
def list_users() -> None:
    """List the accounts with their roles and whether they may sign in."""
    from caseflow.db import db
    from caseflow.models import User

    with _app_context():
        for user in db.session.scalars(select(User).order_by(User.username)):
            state = "active" if user.active else "deactivated"
            click.echo(f"{user.username}\t{user.display_name}\t{','.join(user.role_names)}"
                       f"\t{state}")


@users_group.command("add")
@click.argument("username")
@click.option("--name", "display_name", default="", help="the name shown on screens")
@click.option("--role", "roles", multiple=True, type=ROLE, required=True)
@click.option("--college", default=None, help="college code (college officers, counselors)")
@click.option("--class", "classes", multiple=True, help="class code a counselor holds")
@click.option("--service", is_flag=True, help="a service account for API tokens (no password)")
def add(username: str, display_name: str, roles: tuple[str, ...], college: str | None,
        classes: tuple[str, ...], service: bool) -> None:
    """Create an account; asks for its password (at least 10 characters, not a common one)."""
    from caseflow.db import db
    from caseflow.models import College, Klass
    from caseflow.services import ValidationFailed, auth

    with _app_context():
        college_id = class_ids = None
        if college:
            college_id = db.session.scalar(select(College.id).where(College.code == college))
            if college_id is None:
                _refused(ValueError(f"no college {college!r}"))
        class_ids = tuple(db.session.scalars(select(Klass.id).where(Klass.code.in_(classes))))
        if len(class_ids) != len(set(classes)):
            _refused(ValueError(f"unknown class among {', '.join(classes)}"))
        password = None if service else _new_password(username)
        try:
            auth.create_user(username, display_name, list(roles), cli_actor(), password=password,
                             college_id=college_id, class_ids=class_ids)
        except ValidationFailed as exc:
            _refused(exc)
    click.echo(f"created {username} ({', '.join(roles)})")


@users_group.command("set-roles")
@click.argument("username")
@click.argument("roles", nargs=-1, type=ROLE)
def set_roles(username: str, roles: tuple[str, ...]) -> None:
    """Give an account exactly these roles (none: no roles at all); audited."""
    from caseflow.services import auth

    with _app_context():
        before, after = auth.set_roles(_user(username), list(roles), cli_actor())
    click.echo(f"{username}: {','.join(before) or '-'} -> {','.join(after) or '-'}")


@users_group.command("deactivate")
@click.argument("username")
def deactivate(username: str) -> None:
    """Stop an account from signing in, ending its sessions at once (kept, never deleted)."""
    from caseflow.services import auth

    with _app_context():
        auth.set_active(_user(username), False, cli_actor())
    click.echo(f"{username} deactivated")


@users_group.command("activate")
@click.argument("username")
def activate(username: str) -> None:
    """Let a deactivated account sign in again."""
    from caseflow.services import auth

    with _app_context():
        auth.set_active(_user(username), True, cli_actor())
    click.echo(f"{username} activated")


@users_group.command("set-password")
@click.argument("username")
def set_password(username: str) -> None:
    """Set a new password (asked twice); ends the account's sessions."""
    from caseflow.services import ValidationFailed, auth

    with _app_context():
        user = _user(username)
        try:
            auth.set_password(user, _new_password(username), cli_actor())
        except ValidationFailed as exc:
            _refused(exc)
    click.echo(f"password of {username} changed")


@users_group.command("require-totp")
@click.argument("role", type=ROLE)
@click.option("--off", is_flag=True, help="stop requiring it")
def require_totp(role: str, off: bool) -> None:
    """Require a one-time code (TOTP) at sign-in for every holder of ROLE."""
    from caseflow.services import totp

    with _app_context():
        totp.require_for_role(role, not off, cli_actor())
        now = sorted(totp.required_roles())
    click.echo(f"second factor required for: {', '.join(now) or 'no role'}")


@users_group.command("reset-totp")
@click.argument("username")
def reset_totp(username: str) -> None:
    """Remove an account's second factor (a lost phone); it sets one up at next sign-in."""
    from caseflow.services import totp

    with _app_context():
        done = totp.reset(_user(username), cli_actor())
    click.echo(f"second factor of {username} {'removed' if done else 'was not set up'}")


@users_group.command("issue-token")
@click.argument("username")
@click.option("--name", required=True, help="the system the token is for")
@click.option("--role", "roles", multiple=True, type=ROLE, required=True)
@click.option("--days", type=int, default=None, help="days it is valid (default: until revoked)")
def issue_token(username: str, name: str, roles: tuple[str, ...], days: int | None) -> None:
    """Issue an API token for an account, limited to some of its roles; printed once."""
    from caseflow.services import ValidationFailed, api_tokens

    with _app_context():
        try:
            row, token = api_tokens.issue(_user(username).id, name, roles, cli_actor(),
                                          timedelta(days=days) if days else None)
        except ValidationFailed as exc:
            _refused(exc)
        token_id = row.id
    click.echo(f"token {token_id} for {name}: {token}")
    click.echo("Keep it now: caseflow stores only its hash and cannot show it again.")


@users_group.command("tokens")
def list_tokens() -> None:
    """List the API tokens (never the tokens themselves)."""
    from caseflow.services import api_tokens

    with _app_context():
        for row in api_tokens.tokens():
            state = "revoked" if row.revoked_at else "active"
            used = row.last_used_at.isoformat() if row.last_used_at else "never used"
            click.echo(f"{row.id}\t{row.prefix}…\t{row.name}\t{row.roles}\t{state}\t{used}")


@users_group.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke an API token at once."""
    from caseflow.services import NotFound, api_tokens

    with _app_context():
        try:
            api_tokens.revoke(token_id, cli_actor())
        except NotFound as exc:
            _refused(exc)
    click.echo(f"token {token_id} revoked")
