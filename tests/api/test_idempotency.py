"""Idempotency-Key when the first request dies: its answer is stored with its work, and a
claim left without an answer is taken over by a retry once its lease is over."""

from __future__ import annotations

from sqlalchemy import select

from caseflow.api import support
from caseflow.db import db
from caseflow.models import ApiIdempotency, Case, Finding, PoliceWarning
from caseflow.services import cases, idempotency, warnings
from tests.api.conftest import bearer
from tests.api.test_api import count, finding, warning
from tests.production.support import answers, at_once
from tests.security.conftest import events

LEASE_MINUTES = idempotency.LEASE.total_seconds() / 60


def _kill(monkeypatch, target, name: str) -> None:
    """Make the next request die in `target.name` (answered 500 here), leaving its claim as
    a killed worker does: no rollback of its own, no key given back."""
    def dies(*_args, **_kwargs):
        raise RuntimeError("worker killed")
    monkeypatch.setattr(target, name, dies)
    monkeypatch.setattr(support.idempotency, "release", lambda _claim: None)


def _claim(key: str) -> ApiIdempotency:
    db.session.expire_all()
    return db.session.scalar(select(ApiIdempotency).where(ApiIdempotency.key == key))


def _crashed_warning(client, monkeypatch, auth, sent) -> None:
    """A warning request that claimed its key, flushed its warning and died."""
    before = count(PoliceWarning)
    _kill(monkeypatch, warnings, "_match")
    died = client.post("/api/v1/warnings", json=sent, headers=auth)
    monkeypatch.undo()
    assert died.status_code == 500
    assert count(PoliceWarning) == before
    claim = _claim(auth["Idempotency-Key"])
    assert claim is not None and claim.status is None


def test_a_claim_younger_than_the_lease_still_answers_409(client, w, monkeypatch, travel):
    auth = {**bearer(w.security), "Idempotency-Key": "fresh"}
    sent = warning(source_ref="F-1")
    _crashed_warning(client, monkeypatch, auth, sent)
    for _ in range(2):
        again = client.post("/api/v1/warnings", json=sent, headers=auth)
        assert again.status_code == 409
        assert again.get_json()["code"] == "idempotency_key_in_use"
        travel.by(minutes=LEASE_MINUTES / 2 - 0.1)
    assert count(PoliceWarning) == 0


def test_a_stale_claim_is_taken_over_and_the_retry_acts_once(client, w, monkeypatch, travel):
    auth = {**bearer(w.security), "Idempotency-Key": "died"}
    sent = warning(source_ref="S-1")
    _crashed_warning(client, monkeypatch, auth, sent)
    travel.by(minutes=LEASE_MINUTES + 1)
    retry = client.post("/api/v1/warnings", json=sent, headers=auth)
    assert retry.status_code == 201, retry.get_json()
    assert "Idempotent-Replayed" not in retry.headers
    assert retry.get_json()["number"].startswith("YJ")
    again = client.post("/api/v1/warnings", json=sent, headers=auth)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == retry.get_json()
    assert count(PoliceWarning) == 1 and len(events("warning_entered")) == 1
    assert _claim("died").status == 201


def test_a_crashed_registration_is_registered_once_by_the_retry(client, w, monkeypatch,
                                                                travel):
    auth = {**bearer(w.counselor2), "Idempotency-Key": "reg-died"}
    sent = finding(student_no=w.student2.student_no)
    before = count(Case), count(Finding)
    _kill(monkeypatch, cases, "mirror")  # the case row is flushed, its process started
    assert client.post("/api/v1/cases", json=sent, headers=auth).status_code == 500
    monkeypatch.undo()
    assert (count(Case), count(Finding)) == before
    travel.by(minutes=LEASE_MINUTES + 1)
    retry = client.post("/api/v1/cases", json=sent, headers=auth)
    assert retry.status_code == 201 and retry.get_json()["opened"] is True
    replay = client.post("/api/v1/cases", json=sent, headers=auth)
    assert replay.status_code == 201 and replay.get_json() == retry.get_json()
    assert (count(Case), count(Finding)) == (before[0] + 1, before[1] + 1)


def test_the_answer_commits_with_the_work_so_a_death_after_it_is_replayed(client, w,
                                                                          monkeypatch):
    auth = {**bearer(w.security), "Idempotency-Key": "after-commit"}
    sent = warning(source_ref="A-1")
    _kill(monkeypatch, support.idempotency, "keep")  # dies after the service's commit
    died = client.post("/api/v1/warnings", json=sent, headers=auth)
    monkeypatch.undo()
    assert died.status_code == 500
    assert count(PoliceWarning) == 1
    stored = _claim("after-commit")
    assert stored.status == 201 and '"number"' in stored.body
    again = client.post("/api/v1/warnings", json=sent, headers=auth)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["number"] == db.session.scalar(select(PoliceWarning.number))
    assert count(PoliceWarning) == 1


def test_a_request_that_outlives_its_lease_cannot_commit_after_a_takeover(client, w,
                                                                          monkeypatch, travel):
    auth = {**bearer(w.security), "Idempotency-Key": "slow"}
    sent = warning()  # no police reference: nothing else would stop a second warning
    validate, retried = warnings.validate, []

    def slow_validate(data):
        if not retried:  # the first request stalls past its lease; the client retries
            retried.append(None)
            travel.by(minutes=LEASE_MINUTES + 1)
            retried[0] = client.post("/api/v1/warnings", json=sent, headers=auth)
        return validate(data)
    monkeypatch.setattr(warnings, "validate", slow_validate)
    slow = client.post("/api/v1/warnings", json=sent, headers=auth)
    assert retried[0].status_code == 201, retried[0].get_json()
    assert slow.status_code == 409 and slow.get_json()["code"] == "idempotency_key_in_use"
    assert count(PoliceWarning) == 1 and len(events("warning_entered")) == 1
    again = client.post("/api/v1/warnings", json=sent, headers=auth)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == retried[0].get_json()


def _at_once(app, auth, sent) -> list:
    """POST the same request from two clients released together."""
    def send(go):
        other = app.test_client()
        go()
        return other.post("/api/v1/warnings", json=sent, headers=auth)

    return answers(at_once(send, send))


def test_two_retries_taking_over_at_once_act_once(app, client, w, monkeypatch, travel):
    token, rounds = bearer(w.security), 8
    for n in range(rounds):
        auth = {**token, "Idempotency-Key": f"twice-{n}"}
        sent = warning(source_ref=f"T-{n}")
        _crashed_warning(client, monkeypatch, auth, sent)
        travel.by(minutes=LEASE_MINUTES + 1)
        answers = _at_once(app, auth, sent)
        fresh = [a for a in answers
                 if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
        assert len(fresh) == 1, [(a.status_code, a.get_json()) for a in answers]
        other = next(a for a in answers if a is not fresh[0])
        assert (other.status_code, other.get_json().get("code")) in {
            (409, "idempotency_key_in_use"), (201, None)}
        if other.status_code == 201:
            assert other.get_json() == fresh[0].get_json()
        assert count(PoliceWarning) == n + 1
    assert len(events("warning_entered")) == rounds


def test_a_task_completed_by_a_request_that_died_after_its_commit_is_replayed(client, w,
                                                                              monkeypatch):
    from tests.api.test_api import TALK

    auth = {**bearer(w.counselor1), "Idempotency-Key": "talk-died"}
    path = f"/api/v1/tasks/{w.talk_a.id}/complete"
    _kill(monkeypatch, support.idempotency, "keep")
    assert client.post(path, json={"data": TALK}, headers=auth).status_code == 500
    monkeypatch.undo()
    again = client.post(path, json={"data": TALK}, headers=auth)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["task"]["state"] == "completed"
    assert len([e for e in events("task_completed") if e.task_id == w.talk_a.id]) == 1
