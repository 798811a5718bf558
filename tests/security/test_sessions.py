"""Session cookies, a new session at sign-in, idle and absolute timeouts (simulated time),
and sessions that end for good: sign-out, deactivation, a changed password."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow import security
from caseflow.db import db
from caseflow.models import LoginSession
from caseflow.services import auth
from tests.security.conftest import events, signin, token
from tests.views import support


@pytest.fixture
def timed(app):
    app.config["SESSION_TIMEOUTS"] = True
    return app


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_cookie_is_httponly_lax_and_secure_over_https(app, client, w):
    answer = client.get("/login")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in secure.headers["Set-Cookie"]
    assert answer.status_code == 200


def test_sign_in_starts_a_new_session(app, client, w):
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"
    signin(client, "counselor1")
    with client.session_transaction() as sess:
        assert "planted" not in sess and sess[security.SID]
        first = sess[security.SID]
    signin(client, "counselor1")
    with client.session_transaction() as sess:
        assert sess[security.SID] != first
    assert db.session.scalar(select(LoginSession).where(LoginSession.user_id ==
                                                        w.counselor1.id)) is not None


def test_idle_timeout_signs_out_after_thirty_minutes(timed, client, w, travel):
    signin(client, "counselor1")
    travel.by(minutes=29)
    assert _signed_in(client)
    travel.by(minutes=29)  # active 29 minutes ago: still fine
    assert _signed_in(client)
    travel.by(minutes=31)
    answer = client.get(f"/cases/{w.a.id}")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert "next=" in answer.headers["Location"]
    assert not _signed_in(client)
    assert '"reason":"idle"' in events("session_expired")[-1].detail


def test_absolute_timeout_signs_out_after_twelve_hours_however_busy(timed, client, w, travel):
    signin(client, "counselor1")
    for _ in range(11 * 4):
        travel.by(minutes=15)
        assert _signed_in(client)
    travel.by(minutes=61)  # 12 h 1 min after signing in, 16 min after the last page
    assert not _signed_in(client)
    assert '"reason":"absolute"' in events("session_expired")[-1].detail


def test_timeouts_come_from_the_school_settings(timed, client, w, travel):
    from caseflow.services import settings_admin

    settings_admin.change("session_idle_timeout", "PT5M", "测试", support.ACTOR, None)
    signin(client, "counselor1")
    travel.by(minutes=6)
    assert not _signed_in(client)


def test_a_copied_cookie_stops_working_after_sign_out(app, client, w):
    name = app.config["SESSION_COOKIE_NAME"]
    signin(client, "counselor1")
    cookie = client.get_cookie(name).value
    client.post("/logout", data={"csrf_token": token(client)})
    assert '"reason"' not in events("logout_succeeded")[-1].detail
    client.set_cookie(name, cookie)
    assert not _signed_in(client)
    assert '"reason":"ended"' in events("session_expired")[-1].detail


def test_deactivating_an_account_ends_its_sessions_at_once(client, w):
    signin(client, "counselor1")
    assert _signed_in(client)
    auth.set_active(w.counselor1, False, support.ACTOR)
    assert not _signed_in(client)
    assert events("user_deactivated")


def test_changing_the_password_ends_the_other_sessions(app, client, w):
    other = app.test_client()
    signin(other, "counselor1")
    signin(client, "counselor1")
    answer = client.post("/account/password", data={
        "csrf_token": token(client), "current_password": "correct-horse-battery",
        "new_password": "春眠不觉晓处处闻啼鸟", "repeat_password": "春眠不觉晓处处闻啼鸟"})
    assert answer.status_code == 302
    assert _signed_in(client) and not _signed_in(other)
    assert events("password_changed")


def test_a_copied_cookie_shows_nobody_even_on_a_page_that_does_not_exist(app, client, w):
    name = app.config["SESSION_COOKIE_NAME"]
    signin(client, "counselor1")
    cookie = client.get_cookie(name).value
    missing = client.get("/no-such-page").get_data(as_text=True)
    assert w.counselor1.display_name in missing  # signed in: the 404 page has the nav
    client.post("/logout", data={"csrf_token": token(client)})
    client.set_cookie(name, cookie)
    answer = client.get("/no-such-page")
    # the ended session is refused before any page, a 404 included, shows who it was
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert w.counselor1.display_name not in answer.get_data(as_text=True)
    assert '"reason":"ended"' in events("session_expired")[-1].detail
