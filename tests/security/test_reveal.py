"""Revealing one masked number: who may, with a purpose, once, audited, seen by leaders."""

from __future__ import annotations

import json

from caseflow import access
from tests.security.conftest import BANK, events, signin, token

PHONE, ID_CARD, GUARDIAN = "13800000000", "370102200501011233", "13900000000"


def _reveal(client, path: str, purpose: str = "今晚家访前联系家长"):
    return client.post(path, data={"csrf_token": token(client), "purpose": purpose})


def test_the_counselor_reveals_a_guardian_phone_with_a_purpose(client, w):
    signin(client, "counselor1")
    guardian = w.student1.guardians[0]
    file = client.get(f"/cases/{w.a.id}").get_data(as_text=True)
    link = f"/cases/{w.a.id}/reveal?field=guardian_phone&amp;guardian={guardian.id}"
    assert link in file and "field=id_card" not in file  # no ID card for a counselor
    path = link.replace("&amp;", "&")
    form = client.get(path).get_data(as_text=True)
    assert GUARDIAN not in form and "139****0000" in form
    refused = _reveal(client, path, " ")
    assert refused.status_code == 422 and GUARDIAN not in refused.get_data(as_text=True)
    assert not events("field_revealed")
    shown = _reveal(client, path)
    assert shown.status_code == 200 and GUARDIAN in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    (event,) = events("field_revealed")
    detail = json.loads(event.detail)
    assert event.actor == "counselor1" and event.case_id == w.a.id
    assert detail["field"] == "phone" and detail["guardian_id"] == guardian.id
    assert detail["purpose"] == "今晚家访前联系家长" and detail["masked"] == "139****0000"
    assert GUARDIAN not in event.detail


def test_the_security_office_reveals_id_card_and_bank_account(client, w):
    signin(client, "security")
    card = _reveal(client, f"/cases/{w.a.id}/reveal?field=id_card", "协助警方核查身份")
    assert ID_CARD in card.get_data(as_text=True)
    file = client.get(f"/cases/{w.a.id}").get_data(as_text=True)
    bank = (f"/cases/{w.a.id}/reveal?field=task_field&amp;task={w.talk_done.id}"
            "&amp;name=bank_account")
    assert bank in file
    answer = _reveal(client, bank.replace("&amp;", "&"), "紧急止付核对账户")
    assert BANK in answer.get_data(as_text=True)
    kinds = [json.loads(e.detail)["field"] for e in events("field_revealed")]
    assert kinds == ["id_card", "bank_account"]


def test_a_reveal_in_a_purpose_is_masked_too(client, w):
    signin(client, "officer1")
    _reveal(client, f"/cases/{w.a.id}/reveal?field=phone", f"核对 {PHONE} 是否正确")
    assert PHONE not in events("field_revealed")[0].detail


def test_roles_that_may_not_reveal_get_404_and_it_is_audited(client, w):
    for username, field in (("leader", "phone"), ("psych", "phone"), ("counselor1", "id_card"),
                            ("officer1", "task_field&task=1&name=bank_account"),
                            ("affairs", "phone"), ("admin", "id_card")):
        signin(client, username)
        answer = _reveal(client, f"/cases/{w.a.id}/reveal?field={field}")
        assert answer.status_code == 404, (username, field)
    assert not events("field_revealed")
    assert len(events("access_denied")) == 6


def test_the_lead_office_reveals_an_id_card_of_a_student(client, w):
    assert access.may_reveal(w.affairs, "id_card", student=w.student2)
    signin(client, "affairs")
    answer = _reveal(client, f"/students/{w.student2.id}/reveal?field=id_card", "上报材料核对")
    assert ID_CARD in answer.get_data(as_text=True)


def test_leaders_see_who_looked_at_a_case(client, w):
    signin(client, "counselor1")
    client.get(f"/cases/{w.a.id}")
    _reveal(client, f"/cases/{w.a.id}/reveal?field=phone", "电话联系学生本人")
    signin(client, "counselor2")
    client.get(f"/cases/{w.a.id}")  # refused, and recorded in the case's history
    signin(client, "leader")
    html = client.get(f"/cases/{w.a.id}").get_data(as_text=True)
    assert "查阅案卷" in html and "查看明文号码" in html and "越权访问被拒" in html
    assert "电话联系学生本人" in html and "counselor2" in html and PHONE not in html
