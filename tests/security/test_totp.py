"""The optional TOTP second factor: enrolment, sign-in with a code, replay, required roles."""

from __future__ import annotations

import re

import pyotp

from caseflow import clock
from caseflow.services import totp
from tests.conftest import csrf_token, login
from tests.security.conftest import events, signin, token
from tests.views import support
from tests.views.test_html_quality import check


def _code(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def _enrol(client, path: str = "/account/second-factor") -> str:
    page = client.get(path).get_data(as_text=True)
    check(page)
    assert "otpauth://totp/" in page and "http" not in page.split("otpauth://")[1][:200]
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    answer = client.post(path, data={"csrf_token": csrf_token(page), "code": _code(secret)})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return secret


def test_enrol_then_sign_in_with_a_code_used_once(client, w, travel):
    signin(client, "counselor1")
    secret = _enrol(client)
    assert events("totp_enrolled") and totp.enrolled(w.counselor1)
    client.post("/logout", data={"csrf_token": token(client)})
    first = login(client, "counselor1")
    assert first.headers["Location"].endswith("/login/code")
    assert client.get("/").status_code == 302  # not signed in before the code
    page = client.get("/login/code").get_data(as_text=True)
    check(page)
    wrong = client.post("/login/code", data={"csrf_token": csrf_token(page), "code": "000000"})
    check(wrong.get_data(as_text=True))
    assert wrong.status_code == 200 and "动态码不正确" in wrong.get_data(as_text=True)
    travel.by(seconds=31)
    code = _code(secret)
    ok = client.post("/login/code", data={"csrf_token": csrf_token(page), "code": code})
    assert ok.status_code == 302 and client.get("/").status_code == 200
    assert '"second_factor":true' in events("login_succeeded")[-1].detail
    client.post("/logout", data={"csrf_token": token(client)})
    login(client, "counselor1")
    page = client.get("/login/code").get_data(as_text=True)
    replay = client.post("/login/code", data={"csrf_token": csrf_token(page), "code": code})
    assert replay.status_code == 200  # the same code twice: refused


def test_a_role_can_be_required_to_use_a_second_factor(client, w):
    totp.require_for_role("college_officer", True, support.ACTOR)
    assert events("totp_requirement_changed")
    answer = login(client, "officer1")
    assert answer.headers["Location"].endswith("/login/enrol")
    assert client.get("/").status_code == 302
    _enrol(client, "/login/enrol")
    assert client.get("/").status_code == 200
    assert login(client, "counselor1").headers["Location"].endswith("/")  # other roles: no


def test_the_code_must_follow_the_password_soon(client, w, travel):
    signin(client, "counselor1")
    _enrol(client)
    client.post("/logout", data={"csrf_token": token(client)})
    login(client, "counselor1")
    travel.by(minutes=6)
    assert client.get("/login/code").headers["Location"].endswith("/login")


def test_wrong_codes_are_throttled_like_passwords(client, w):
    signin(client, "counselor1")
    _enrol(client)
    client.post("/logout", data={"csrf_token": token(client)})
    login(client, "counselor1")
    page = client.get("/login/code").get_data(as_text=True)
    answers = [client.post("/login/code", data={"csrf_token": csrf_token(page),
                                                "code": "000000"}) for _ in range(6)]
    assert answers[-1].status_code == 429 and events("login_locked")


def test_an_admin_resets_a_lost_factor(app, w):
    totp.start_enrolment(w.counselor2)
    assert totp.reset(w.counselor2, support.ACTOR) and events("totp_reset")
    assert not totp.required(w.counselor2)
