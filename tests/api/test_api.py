"""The JSON API: tokens, each endpoint, scope, field errors, conflicts, idempotent retries."""

from __future__ import annotations

from sqlalchemy import func, select

from caseflow import clock
from caseflow.db import db
from caseflow.models import ApiIdempotency, AuditEvent, Case, Finding, PoliceWarning
from caseflow.services import api_tokens
from tests import factories
from tests.api.conftest import bearer
from tests.security.conftest import events
from tests.views import support

TALK = {"reached_how": "phone", "talked_at": "2024-03-01T10:00:00+08:00",
        "note": "第一次谈话", "bank_account": "6222020000009876", "refer": False}


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def warning(**extra):
    return {"warned_at": clock.now().isoformat(), "fraud_type": "fake_investment",
            "name": "张三", "phone": "13800000001", **extra}


def finding(**extra):
    return {"discovery_source": "self_report", "category": "victim",
            "fraud_type": "order_brushing", "what_happened": "刷单被骗",
            "loss_cny": "800.00", "ongoing": "no", **extra}


# -- tokens -------------------------------------------------------------------------------

def test_no_token_a_bad_one_or_a_revoked_one_answers_401_json(client, w):
    for headers in ({}, {"Authorization": "Bearer cf_wrong"}, {"Authorization": "Basic x"}):
        answer = client.get("/api/v1/tasks", headers=headers)
        assert answer.status_code == 401
        assert answer.get_json()["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    row, token = api_tokens.issue(w.counselor1.id, "t", ["counselor"], support.ACTOR)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/tasks", headers=auth).status_code == 200
    api_tokens.revoke(row.id, support.ACTOR)
    assert client.get("/api/v1/tasks", headers=auth).status_code == 401
    assert len(events("api_token_refused")) == 2  # the wrong and the revoked token
    assert events("api_token_used")


def test_a_signed_in_browser_session_does_not_open_the_api(client, w):
    from tests.conftest import login

    login(client, "counselor1")
    assert client.get("/api/v1/tasks").status_code == 401


def test_a_token_acts_only_with_its_own_roles(client, w):
    both = factories.user("both", "counselor", "security_office", college=w.college1,
                          classes=(w.class1,))
    as_counselor, as_security = bearer(both, "counselor"), bearer(both, "security_office")
    refused = client.post("/api/v1/warnings", json=warning(), headers=as_counselor)
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    assert count(PoliceWarning) == 0
    assert client.post("/api/v1/warnings", json=warning(), headers=as_security
                       ).status_code == 201


def test_unknown_paths_and_methods_answer_json(client, w):
    auth = bearer(w.counselor1)
    missing = client.get("/api/v1/nothing", headers=auth)
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    wrong = client.delete("/api/v1/cases", headers=auth)
    assert wrong.status_code == 405 and wrong.get_json()["code"] == "method_not_allowed"
    bad = client.post("/api/v1/warnings", data="{not json", headers=bearer(w.security),
                      content_type="application/json")
    assert bad.status_code in (400, 422) and "code" in bad.get_json()


# -- warnings -----------------------------------------------------------------------------

def test_entering_a_warning_and_a_retry_with_the_same_key_enter_it_once(client, w):
    auth = {**bearer(w.security), "Idempotency-Key": "police-20240301-0001"}
    sent = warning(source_ref="P-1")
    first = client.post("/api/v1/warnings", json=sent, headers=auth)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["number"].startswith("YJ") and body["state"]
    again = client.post("/api/v1/warnings", json=sent, headers=auth)
    assert again.status_code == 201 and again.get_json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(PoliceWarning) == 1
    entered = db.session.scalar(select(PoliceWarning))
    assert entered.source == "api"
    other = client.post("/api/v1/warnings", json=warning(source_ref="P-2"), headers=auth)
    assert other.status_code == 422
    assert other.get_json()["code"] == "idempotency_key_reused"
    assert count(PoliceWarning) == 1


def test_a_warning_with_field_errors_answers_422_per_field_and_changes_nothing(client, w):
    auth = {**bearer(w.security), "Idempotency-Key": "k-422"}
    answer = client.post("/api/v1/warnings", json={"phone": "12", "surprise": 1},
                         headers=auth)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["code"] == "validation_failed"
    assert {"warned_at", "fraud_type", "surprise"} <= set(body["errors"])
    assert count(PoliceWarning) == 0 and count(ApiIdempotency) == 0  # the key is free again
    fixed = client.post("/api/v1/warnings", json=warning(), headers=auth)
    assert fixed.status_code == 201


def test_a_warning_whose_id_card_check_character_is_wrong_answers_422(client, w):
    answer = client.post("/api/v1/warnings", json=warning(id_card="110105194912310021"),
                         headers=bearer(w.security))
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["id_card"] == [
        "the last character does not match the others: check the number"]
    assert count(PoliceWarning) == 0


def test_the_same_police_reference_twice_is_a_conflict(client, w):
    auth = bearer(w.security)
    assert client.post("/api/v1/warnings", json=warning(source_ref="P-9"),
                       headers=auth).status_code == 201
    again = client.post("/api/v1/warnings", json=warning(source_ref="P-9"), headers=auth)
    assert again.status_code == 409 and again.get_json()["code"] == "conflict"


# -- registration ---------------------------------------------------------------------------

def test_registration_opens_a_case_then_attaches_and_a_retry_registers_once(client, w):
    auth = bearer(w.counselor2)
    first = client.post("/api/v1/cases", json=finding(student_no=w.student2.student_no),
                        headers={**auth, "Idempotency-Key": "reg-1"})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["opened"] is True
    replay = client.post("/api/v1/cases", json=finding(student_no=w.student2.student_no),
                         headers={**auth, "Idempotency-Key": "reg-1"})
    assert replay.status_code == 201 and replay.get_json() == first.get_json()
    cases_before = count(Case)
    second = client.post("/api/v1/cases", json=finding(student_id=w.student2.id,
                                                       loss_cny="100.00"), headers=auth)
    assert second.status_code == 200 and second.get_json()["opened"] is False
    assert second.get_json()["case"]["id"] == first.get_json()["case"]["id"]
    assert count(Case) == cases_before
    assert count(Finding) == 2
    source = db.session.get(Case, first.get_json()["case"]["id"]).source
    assert source == "api"


def test_registration_about_a_student_out_of_scope_answers_404(client, w):
    answer = client.post("/api/v1/cases", json=finding(student_id=w.student3.id),
                         headers=bearer(w.counselor1))
    assert answer.status_code == 404 and answer.get_json()["code"] == "not_found"
    missing = client.post("/api/v1/cases", json=finding(), headers=bearer(w.counselor1))
    assert missing.status_code == 422 and "student_id" in missing.get_json()["errors"]


# -- tasks ------------------------------------------------------------------------------------

def test_my_tasks_lists_the_token_users_open_steps_only(client, w):
    answer = client.get("/api/v1/tasks?per_page=5", headers=bearer(w.counselor1))
    assert answer.status_code == 200
    body = answer.get_json()
    ids = {t["id"] for t in body["items"]}
    assert w.talk_a.id in ids and w.talk_c.id not in ids
    assert body["meta"] == {"page": 1, "per_page": 5, "total": len(ids), "pages": 1}
    assert client.get("/api/v1/tasks?per_page=0", headers=bearer(w.counselor1)
                      ).status_code == 422


def test_a_task_shows_its_form_schema_with_types_choices_and_labels(client, w):
    answer = client.get(f"/api/v1/tasks/{w.talk_a.id}", headers=bearer(w.counselor1))
    assert answer.status_code == 200
    form = {f["name"]: f for f in answer.get_json()["form"]}
    assert form["reached_how"]["required"] is True
    assert {"value": "phone", "label": {"zh": "电话", "en": "Phone"}} in \
        form["reached_how"]["choices"]
    assert form["talked_at"]["type"] == "datetime" and form["refer"]["type"] == "boolean"
    assert form["note"]["label"] == {"zh": "事情经过", "en": "What happened"}
    assert form["note"]["max_length"] == 2000


def test_tasks_and_cases_out_of_scope_answer_404_and_are_audited(client, w):
    auth = bearer(w.counselor1)
    for path in (f"/api/v1/tasks/{w.talk_c.id}", f"/api/v1/cases/{w.c.id}",
                 "/api/v1/cases/999999", "/api/v1/tasks/999999"):
        answer = client.get(path, headers=auth)
        assert answer.status_code == 404, path
        assert answer.get_json() == {"code": "not_found", "message": "Not found."}
    done = client.post(f"/api/v1/tasks/{w.talk_c.id}/complete", json={"data": TALK},
                       headers=auth)
    assert done.status_code == 404
    assert len(events("access_denied")) == 5


def test_completing_checks_fields_then_completes_once_and_conflicts_after(client, w):
    auth = bearer(w.counselor1)
    path = f"/api/v1/tasks/{w.talk_a.id}/complete"
    bad = client.post(path, json={"data": {**TALK, "note": "", "reached_how": "mail"}},
                      headers=auth)
    assert bad.status_code == 422
    assert {"note", "reached_how"} <= set(bad.get_json()["errors"])
    db.session.refresh(w.talk_a)
    assert w.talk_a.state == "ready"
    keyed = {**auth, "Idempotency-Key": "talk-a-1"}
    done = client.post(path, json={"data": TALK}, headers=keyed)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["task"]["state"] == "completed"
    replay = client.post(path, json={"data": TALK}, headers=keyed)
    assert replay.status_code == 200 and replay.get_json() == done.get_json()
    twice = client.post(path, json={"data": TALK}, headers=auth)
    assert twice.status_code == 409 and twice.get_json()["code"] == "conflict"
    completed = [e for e in events("task_completed") if e.task_id == w.talk_a.id]
    assert len(completed) == 1


# -- cases ------------------------------------------------------------------------------------

def test_reading_a_case_masks_numbers_and_is_audited_like_the_screen(client, w):
    auth = bearer(w.counselor1)
    client.post(f"/api/v1/tasks/{w.talk_a.id}/complete", json={"data": TALK}, headers=auth)
    answer = client.get(f"/api/v1/cases/{w.a.id}?lang=en", headers=auth)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["number"] == w.a.number and body["student_detail"]["name"] == "张三"
    assert "6222020000009876" not in answer.get_data(as_text=True)
    talk = next(s for s in body["steps"] if s["step"] == "Talk")
    bank = next(i for i in talk["items"] if i["label"] == "Bank account")
    assert bank["kind"] == "masked" and bank["text"].endswith("9876")
    viewed = [e for e in events("case_viewed") if e.case_id == w.a.id]
    assert viewed and '"via": "api"' in viewed[-1].detail.replace('":"', '": "')


def test_the_case_list_filters_and_pages_within_scope(client, w):
    leader = bearer(w.leader)
    everything = client.get("/api/v1/cases?per_page=1", headers=leader).get_json()
    assert everything["meta"] == {"page": 1, "per_page": 1, "total": 2, "pages": 2}
    page2 = client.get("/api/v1/cases?per_page=1&page=2", headers=leader).get_json()
    assert {everything["items"][0]["id"], page2["items"][0]["id"]} == {w.a.id, w.c.id}
    college2 = client.get(f"/api/v1/cases?college={w.college2.id}&status=open",
                          headers=leader).get_json()
    assert [c["id"] for c in college2["items"]] == [w.c.id]
    mine = client.get("/api/v1/cases", headers=bearer(w.counselor1)).get_json()
    assert [c["id"] for c in mine["items"]] == [w.a.id]
    assert client.get("/api/v1/cases?status=nope", headers=leader).status_code == 422
    assert client.get("/api/v1/cases?category=victim", headers=leader
                      ).get_json()["meta"]["total"] == 2


def test_every_api_use_is_audited(client, w):
    client.get("/api/v1/tasks", headers=bearer(w.counselor1))
    used = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == "api_token_used")).all()
    assert used and "/api/v1/tasks" in used[-1].detail


def test_values_no_column_can_hold_are_field_errors_not_server_errors(client, w):
    auth = bearer(w.affairs)
    huge = client.post("/api/v1/cases", json=finding(student_id=w.student2.id,
                                                     loss_cny="999999999999999.99"),
                       headers=auth)
    assert huge.status_code == 422 and "loss_cny" in huge.get_json()["errors"]
    long_code = client.post("/api/v1/warnings", json=warning(fraud_type="x" * 51),
                            headers=bearer(w.security))
    assert long_code.status_code == 422 and "fraud_type" in long_code.get_json()["errors"]
    college = client.post("/api/v1/warnings", json=warning(college_id=2**40),
                          headers=bearer(w.security))
    assert college.status_code == 422 and "college_id" in college.get_json()["errors"]
    nul = client.get("/api/v1/cases?q=a%00b", headers=auth)
    assert nul.status_code == 422 and nul.get_json()["errors"] == {
        "q": ["may not contain NUL characters"]}
    body = client.post("/api/v1/warnings", json=warning(note="a\x00b"),
                       headers=bearer(w.security))
    assert body.status_code == 422 and "note" in body.get_json()["errors"]
    assert count(PoliceWarning) == 0 and count(Case) == 2


def test_a_key_is_kept_a_day_then_purged(client, w, travel):
    from caseflow.services import idempotency

    auth = {**bearer(w.security), "Idempotency-Key": "daily"}
    assert client.post("/api/v1/warnings", json=warning(source_ref="D-1"),
                       headers=auth).status_code == 201
    travel.by(hours=25)
    assert idempotency.purge(force=True) >= 1 and count(ApiIdempotency) == 0
    again = client.post("/api/v1/warnings", json=warning(source_ref="D-2"), headers=auth)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert count(PoliceWarning) == 2


def test_a_bad_idempotency_key_is_a_field_error(client, w):
    answer = client.post("/api/v1/warnings", json=warning(),
                         headers={**bearer(w.security), "Idempotency-Key": "x" * 101})
    assert answer.status_code == 422 and "Idempotency-Key" in answer.get_json()["errors"]
    assert count(PoliceWarning) == 0


def test_a_retry_with_the_same_json_in_another_key_order_is_the_same_request(client, w):
    import json

    auth = {**bearer(w.security), "Idempotency-Key": "order", "Content-Type":
            "application/json"}
    sent = warning(source_ref="O-1")
    first = client.post("/api/v1/warnings", data=json.dumps(sent), headers=auth)
    shuffled = json.dumps(dict(reversed(list(sent.items()))), indent=2)
    again = client.post("/api/v1/warnings", data=shuffled, headers=auth)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and count(PoliceWarning) == 1
