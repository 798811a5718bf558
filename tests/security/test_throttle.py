"""Sign-in throttling per account name and per address, with simulated time."""

from __future__ import annotations

import json
import re

from tests.conftest import csrf_token
from tests.factories import PASSWORD
from tests.security.conftest import events

LOCKED = "登录失败次数过多"


def _try(client, username: str, password: str, address: str = "10.0.0.1"):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    return client.post("/login", environ_base={"REMOTE_ADDR": address}, data={
        "username": username, "password": password,
        "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_five_failures_lock_the_account_for_a_growing_time(client, w, travel):
    for n in range(4):
        assert _try(client, "counselor1", f"wrong-{n}").status_code == 200
    fifth = _try(client, "counselor1", "wrong-5")
    assert fifth.status_code == 429 and LOCKED in fifth.get_data(as_text=True)
    right = _try(client, "counselor1", PASSWORD)
    assert right.status_code == 429  # locked: not even the right password
    locks = events("login_locked")
    assert len(locks) == 1 and json.loads(locks[0].detail)["by"] == "account"
    travel.by(seconds=61)
    for n in range(5):
        _try(client, "counselor1", f"again-{n}")
    travel.by(seconds=61)  # the second lockout lasts two minutes
    assert _try(client, "counselor1", PASSWORD).status_code == 429
    travel.by(seconds=60)
    assert _try(client, "counselor1", PASSWORD).status_code == 302
    assert [json.loads(e.detail)["lockout"] for e in events("login_locked")] == [1, 2]


def test_a_correct_sign_in_forgets_earlier_failures(client, w):
    for n in range(4):
        _try(client, "counselor1", f"wrong-{n}")
    assert _try(client, "counselor1", PASSWORD).status_code == 302
    for n in range(4):
        assert _try(client, "counselor1", f"wrong-{n}").status_code == 200


def test_an_unknown_name_locks_the_same_way_and_says_nothing_more(client, w):
    answers = [_try(client, "nobody-here", f"wrong-{n}") for n in range(6)]
    known = [_try(client, "officer2", f"wrong-{n}", "10.0.0.2") for n in range(6)]
    strip = [re.sub(r'value="[^"]*"', "", a.get_data(as_text=True))
             for a in (answers[-1], known[-1])]
    assert answers[-1].status_code == known[-1].status_code == 429
    assert strip[0] == strip[1]  # the same page for a known and an unknown account


def test_many_failures_from_one_address_lock_the_address(client, w, travel):
    for n in range(20):
        _try(client, f"guess{n}", "wrong-password", "10.9.9.9")
    assert _try(client, "counselor1", PASSWORD, "10.9.9.9").status_code == 429
    assert _try(client, "counselor1", PASSWORD, "10.0.0.3").status_code == 302
    assert any(json.loads(e.detail)["by"] == "address" for e in events("login_locked"))
    travel.by(minutes=2)
    assert _try(client, "counselor2", PASSWORD, "10.9.9.9").status_code == 302
