"""API tokens for machine clients: issued by an admin, hashed, scoped, revocable, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow import access
from caseflow.db import db
from caseflow.models import ApiToken, Case
from caseflow.services import ValidationFailed, api_tokens, auth
from tests.security.conftest import events
from tests.views import support


@pytest.fixture
def police(app, w):
    """A service account of the police warning system, with the security-office role."""
    return auth.create_user("api-police", "公安预警接口", ["security_office"], support.ACTOR,
                            password=None)


def test_a_token_is_shown_once_and_only_its_hash_is_kept(app, w, police):
    row, token = api_tokens.issue(police.id, "公安预警系统", ["security_office"], support.ACTOR)
    assert token.startswith("cf_") and len(token) > 40
    stored = db.session.scalar(select(ApiToken).where(ApiToken.id == row.id))
    assert token not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    assert events("api_token_issued")


def test_a_bearer_token_acts_with_its_roles_and_scope(app, w, police):
    _row, token = api_tokens.issue(police.id, "公安预警系统", ["security_office"], support.ACTOR)
    principal = api_tokens.authenticate(f"Bearer {token}")
    assert principal is not None and principal.role_names == ("security_office",)
    visible = set(db.session.scalars(select(Case.id).where(access.case_filter(principal))))
    assert visible == {w.a.id}  # flagged for the police; case B is not
    assert not access.may_manage_users(principal)
    used = events("api_token_used")
    assert len(used) == 1 and used[0].actor_id == police.id
    api_tokens.authenticate(f"Bearer {token}")
    assert len(events("api_token_used")) == 2  # every use


def test_bad_tokens_revoked_and_expired_ones_are_refused_and_audited(app, w, police, travel):
    _row, token = api_tokens.issue(police.id, "一周有效", ["security_office"], support.ACTOR,
                                   timedelta(days=7))
    for header in (None, "", "Basic abc", "Bearer", f"Token {token}", "Bearer cf_wrong"):
        assert api_tokens.authenticate(header) is None
    travel.by(days=8)
    assert api_tokens.authenticate(f"Bearer {token}") is None
    row, fresh = api_tokens.issue(police.id, "长期", ["security_office"], support.ACTOR)
    assert api_tokens.authenticate(f"Bearer {fresh}") is not None
    api_tokens.revoke(row.id, support.ACTOR)
    assert api_tokens.authenticate(f"Bearer {fresh}") is None
    assert len(events("api_token_refused")) == 3 and events("api_token_revoked")
    auth.set_active(police, False, support.ACTOR)
    _r, third = api_tokens.issue(w.security.id, "保卫处", ["security_office"], support.ACTOR)
    assert api_tokens.authenticate(f"Bearer {third}") is not None


def test_tokens_carry_only_roles_the_account_holds_and_never_admin(app, w, police):
    with pytest.raises(ValidationFailed):
        api_tokens.issue(police.id, "越权", ["student_affairs"], support.ACTOR)
    with pytest.raises(ValidationFailed):
        api_tokens.issue(w.admin.id, "管理", ["admin"], support.ACTOR)
    with pytest.raises(ValidationFailed):
        api_tokens.issue(police.id, " ", ["security_office"], support.ACTOR)
