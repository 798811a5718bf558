"""Police warnings on screen: the security office enters one, caseflow matches it, and a
warning without a sure student is resolved by hand (candidates picked, or a search)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow import clock, forms
from caseflow.db import db
from caseflow.models import AuditEvent, PoliceWarning, TaskRow
from tests import factories
from tests.conftest import csrf_token, login, page_form


@pytest.fixture
def school(app):
    ns = factories.warning_org()
    db.session.commit()
    return ns


def enter(client, **data):
    """Post the entry form (a fresh CSRF token from the form page) and return the answer."""
    page = client.get("/warnings/new").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "warned_at": forms.shown(clock.now()),
            "fraud_type": "fake_investment", "urgency": "urgent", **data}
    return client.post("/warnings/new", data=form)


def warnings() -> list[PoliceWarning]:
    db.session.expire_all()
    return list(db.session.scalars(select(PoliceWarning).order_by(PoliceWarning.id)))


def post(client, path: str, **data):
    token = csrf_token(client.get("/warnings").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def test_an_exact_phone_match_starts_the_dissuasion_at_once(client, school):
    login(client, "security")
    form = client.get("/warnings/new").get_data(as_text=True)
    assert "手机号码" in form and "预警编号" in form and "投资理财" in form
    answer = enter(client, phone="138 0000 0000", source_ref="JQ-1", note="可疑转账")
    [warning] = warnings()
    assert answer.status_code == 302 and answer.headers["Location"] == f"/warnings/{warning.id}"
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "已匹配到 张三（2024000101）" in page and "138****0000" in page
    assert "13800000000" not in page and "见面劝阻" in page
    listed = client.get("/warnings").get_data(as_text=True)
    assert warning.number in listed and "张三" in listed and "尚未见到学生" in listed
    client.post("/logout", data={"csrf_token": csrf_token(listed)})
    login(client, "counselor1")
    inbox = client.get("/").get_data(as_text=True)
    reach = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "reach_counselor"))
    assert reach.assignee_id == school.counselor1.id and f"/tasks/{reach.id}" in inbox
    # the inbox says which warning, and whom
    assert f'<td data-label="案件">{warning.number}</td>' in inbox
    assert '<td data-label="学生">张三</td>' in inbox


def test_a_name_gives_candidates_and_picking_one_starts(client, school):
    login(client, "security")
    answer = enter(client, name="张三")
    [warning] = warnings()
    assert warning.state == "candidates" and warning.instance_id is None
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "可能涉及多名学生" in page and "2024000202" in page and "这就是该学生" in page
    listed = client.get("/warnings").get_data(as_text=True)
    assert "待选定学生" in listed and "2 名候选" in listed
    stranger = post(client, f"/warnings/{warning.id}/pick", student_id=school.student3.id)
    assert stranger.status_code == 422 and "未作任何更改" in stranger.get_data(as_text=True)
    assert warnings()[0].state == "candidates"
    picked = post(client, f"/warnings/{warning.id}/pick", student_id=school.namesake.id)
    assert picked.status_code == 302
    [warning] = warnings()
    assert (warning.state, warning.student_id, warning.match_method) == (
        "matched", school.namesake.id, "picked")
    assert "已匹配到 张三" in client.get(picked.headers["Location"]).get_data(as_text=True)
    again = post(client, f"/warnings/{warning.id}/pick", student_id=school.student1.id)
    assert again.status_code == 409 and "已匹配到学生" in again.get_data(as_text=True)
    assert warnings()[0].student_id == school.namesake.id


def test_an_unmatched_warning_stays_listed_until_assigned_by_hand(client, school):
    login(client, "affairs")  # the lead office
    enter(client, name="查无此人", source_ref="JQ-7")
    [warning] = warnings()
    assert warning.state == "unmatched"
    listed = client.get("/warnings").get_data(as_text=True)
    assert "未找到学生" in listed and warning.number in listed
    assert '<span class="count unread" aria-hidden="true">1</span>' in listed  # nav badge
    found = client.get(f"/warnings/{warning.id}?q=王五").get_data(as_text=True)
    assert "2024000301" in found and "指定该学生" in found
    assigned = post(client, f"/warnings/{warning.id}/assign", student_id=school.student3.id)
    assert assigned.status_code == 302
    [warning] = warnings()
    assert (warning.state, warning.match_method, warning.student_id) == (
        "matched", "manual", school.student3.id)
    assert "等待确定学生 <small>(0)" in client.get("/warnings").get_data(as_text=True)
    twice = enter(client, name="查无此人", source_ref="JQ-7")
    text = twice.get_data(as_text=True)
    assert twice.status_code == 409 and f"已登记为预警 {warning.number}" in text
    assert len(warnings()) == 1


def test_bad_input_shows_the_field_message_and_creates_nothing(client, school):
    login(client, "security")
    answer = enter(client, phone="12ab")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "手机号码格式不正确" in text
    assert 'value="12ab"' in text  # what was typed is kept
    missing = enter(client, name="张三", fraud_type="")
    assert missing.status_code == 422
    assert 'id="f-fraud_type-msg">此项为必填' in missing.get_data(as_text=True)
    nothing = enter(client, fraud_type="other")
    assert nothing.status_code == 422 and "请至少填写手机号码、身份证号或姓名之一" in \
        nothing.get_data(as_text=True)
    assert db.session.scalar(select(func.count(PoliceWarning.id))) == 0


def test_a_mistyped_id_card_number_is_refused_before_it_matches_no_one(client, school):
    login(client, "security")
    typo = school.student2.id_card[:-2] + str((int(school.student2.id_card[-2]) + 1) % 10) \
        + school.student2.id_card[-1]  # one digit off: the check character gives it away
    answer = enter(client, id_card=typo)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "身份证号校验位不符" in text
    assert f'value="{typo}"' in text  # kept, to be corrected
    english = client.post("/warnings/new?lang=en", data={
        "csrf_token": csrf_token(client.get("/warnings/new?lang=en").get_data(as_text=True)),
        "warned_at": forms.shown(clock.now()), "fraud_type": "fake_investment", "id_card": typo})
    assert "The last character does not match the others" in english.get_data(as_text=True)
    assert db.session.scalar(select(func.count(PoliceWarning.id))) == 0
    fixed = enter(client, id_card=school.student2.id_card.lower())
    assert fixed.status_code == 302
    [warning] = warnings()
    assert (warning.student_id, warning.match_method) == (school.student2.id, "id_card")


def test_a_double_submit_enters_the_warning_once(client, school):
    login(client, "security")
    first = enter(client, name="查无此人", note="同一预警")
    second = enter(client, name="查无此人", note="同一预警")
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    assert "未重复登记" in client.get(second.headers["Location"]).get_data(as_text=True)
    assert len(warnings()) == 1


@pytest.mark.parametrize("username", ["counselor1", "officer1", "psych", "leader", "admin"])
def test_only_the_security_and_lead_offices_may_enter(client, school, username):
    login(client, username)
    assert client.get("/warnings/new").status_code == 404
    seen = client.get("/warnings").status_code
    assert seen == (200 if username == "leader" else 404)
    home = client.get("/").get_data(as_text=True)
    assert ('href="/warnings"' in home) == (username == "leader")


def test_the_screens_speak_english_with_lang_en(client, school):
    login(client, "security")
    enter(client, name="张三")
    [warning] = warnings()
    page = client.get(f"/warnings/{warning.id}?lang=en").get_data(as_text=True)
    assert "Which student is it?" in page and "This is the student" in page
    listed = client.get("/warnings?lang=en").get_data(as_text=True)
    assert "Waiting for a student" in listed and "Pick the student" in listed
    form = client.get("/warnings/new?lang=en").get_data(as_text=True)
    assert "Phone number" in form and "Police reference" in form


def test_a_refused_warning_page_is_audited(client, school):
    login(client, "security")
    enter(client, name="查无此人")
    [warning] = warnings()
    client.post("/logout", data={"csrf_token": csrf_token(
        client.get("/warnings").get_data(as_text=True))})
    login(client, "counselor1")
    assert client.get(f"/warnings/{warning.id}").status_code == 404
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == "access_denied")) == 1


def test_a_future_time_is_refused_in_chinese(client, school):
    login(client, "security")
    answer = enter(client, name="张三", warned_at=forms.shown(clock.now() + timedelta(hours=2)))
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="f-warned_at-msg">不能晚于当前时间' in text and "Must not be" not in text
    assert db.session.scalar(select(func.count(PoliceWarning.id))) == 0


def test_a_field_error_and_a_missing_identity_are_reported_together(school):
    from caseflow.services import ValidationFailed
    from caseflow.services import warnings as warning_service

    with pytest.raises(ValidationFailed) as refused:
        warning_service.validate({"warned_at": "2999-01-01T00:00:00", "fraud_type": "other"})
    assert set(refused.value.errors) == {"warned_at", "phone"}
    with pytest.raises(ValidationFailed) as refused:  # a bad phone is not also "missing"
        warning_service.validate({"phone": "12", "warned_at": "2026-01-01T00:00:00",
                                  "fraud_type": "other"})
    assert refused.value.errors["phone"] == ["not a phone number"]


def entry_form(client, **data) -> dict[str, str]:
    """Return the entry form as the page gives it: CSRF and one-time tokens, and `data`."""
    return page_form(client, "/warnings/new", **{
        "warned_at": forms.shown(clock.now()), "fraud_type": "fake_investment",
        "urgency": "urgent", **data})


def entered_events() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == "warning_entered"))


def test_a_retried_entry_form_enters_the_warning_once(client, school):
    login(client, "security")
    form = entry_form(client, name="查无此人", note="同一预警")
    first = client.post("/warnings/new", data=form)
    # retried later than the two minutes that `just_entered` looks back: the token answers
    with clock.pinned(clock.now() + timedelta(minutes=5)):
        again = client.post("/warnings/new", data=form)
    [warning] = warnings()
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"] == f"/warnings/{warning.id}"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert f"该表单已提交过：当时已登记为预警 {warning.number}，未重复登记" in page
    assert entered_events() == 1
    # a fresh form with the same facts, after those two minutes, is a new warning
    with clock.pinned(clock.now() + timedelta(minutes=5)):
        assert client.post("/warnings/new", data=entry_form(
            client, name="查无此人", note="同一预警")).status_code == 302
    assert len(warnings()) == entered_events() == 2


def test_a_token_of_another_form_or_person_enters_nothing(client, school):
    from caseflow.services import idempotency

    login(client, "security")
    form = entry_form(client, name="查无此人")
    idempotency.remember(form["submission_token"], school.security.id, None, None,
                         form="registration", result_id=1)
    db.session.commit()
    refused = client.post("/warnings/new", data=form)
    assert refused.status_code == 409
    assert "该表单已使用过：请刷新页面后重新登记预警" in refused.get_data(as_text=True)
    assert warnings() == [] and entered_events() == 0
    form = entry_form(client, name="查无此人", source_ref="JQ-9")
    assert client.post("/warnings/new", data=form).status_code == 302
    client.post("/logout", data={"csrf_token": form["csrf_token"]})
    login(client, "affairs")  # the lead office, with the security office's token
    theirs = {**entry_form(client, name="另一人"), "submission_token": form["submission_token"]}
    refused = client.post("/warnings/new", data=theirs)
    assert refused.status_code == 409 and "该表单已使用过" in refused.get_data(as_text=True)
    assert [w.name for w in warnings()] == ["查无此人"] and entered_events() == 1
