"""`caseflow users …`: accounts, roles (audited as role_changed), passwords, factors, tokens."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from caseflow.cli_users import users_group
from caseflow.db import db
from caseflow.models import User
from tests.conftest import login
from tests.security.conftest import events


@pytest.fixture
def cli(app, w, cli_database):

    def run(*args: str, input: str | None = None):
        db.session.commit()
        result = CliRunner().invoke(users_group, list(args), input=input,
                                    catch_exceptions=False)
        db.session.expire_all()
        return result
    return run


def test_add_set_roles_deactivate_and_set_password(cli, client, w):
    weak = cli("add", "counselor9", "--name", "辅导员九", "--role", "counselor", "--college",
               "C01", "--class", "K1", input="woaini1314\nwoaini1314\n")
    assert weak.exit_code == 1 and "common" in weak.output
    made = cli("add", "counselor9", "--name", "辅导员九", "--role", "counselor", "--college",
               "C01", "--class", "K1", input="blue-kettle-Harbour-91\nblue-kettle-Harbour-91\n")
    assert made.exit_code == 0, made.output
    user = db.session.scalar(select(User).where(User.username == "counselor9"))
    assert user.class_ids == (w.class1.id,) and events("user_created")
    changed = cli("set-roles", "counselor9", "counselor", "college_officer")
    assert "counselor -> college_officer,counselor" in changed.output
    (event,) = events("role_changed")
    assert json.loads(event.detail)["after"] == ["college_officer", "counselor"]
    assert event.actor.startswith("cli:")
    assert login(client, "counselor9", "blue-kettle-Harbour-91").status_code == 302
    assert cli("deactivate", "counselor9").exit_code == 0
    assert client.get("/").status_code == 302  # its session ended at once
    assert login(client, "counselor9", "blue-kettle-Harbour-91").status_code == 200
    assert cli("activate", "counselor9").exit_code == 0
    assert cli("set-password", "counselor9", input="another-Kettle-77\nanother-Kettle-77\n"
               ).exit_code == 0
    assert events("password_changed")
    assert "counselor9" in cli("list").output


def test_second_factor_and_token_commands(cli, w):
    assert "college_officer" in cli("require-totp", "college_officer").output
    assert "no role" in cli("require-totp", "college_officer", "--off").output
    assert "was not set up" in cli("reset-totp", "counselor1").output
    assert cli("add", "api-police", "--role", "security_office", "--service").exit_code == 0
    issued = cli("issue-token", "api-police", "--name", "公安预警", "--role", "security_office",
                 "--days", "30")
    assert issued.exit_code == 0 and "cf_" in issued.output
    listed = cli("tokens").output
    assert "公安预警" in listed and issued.output.split(": ")[1].split()[0] not in listed
    assert cli("revoke-token", "1").exit_code == 0 and "revoked" in cli("tokens").output
    assert cli("issue-token", "api-police", "--name", "x", "--role", "leader").exit_code == 1
