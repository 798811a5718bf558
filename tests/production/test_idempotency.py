"""One-time submission tokens: a double click or a retried POST completes a task (enters a
warning, registers a finding) once, and the repeat is answered with the first submission's
redirect instead of an error."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from caseflow import clock, forms
from caseflow.db import db
from caseflow.models import Case, Finding, PoliceWarning, SubmissionToken, TaskRow
from caseflow.services import idempotency
from tests import factories
from tests.conftest import login, page_form
from tests.production.support import answers, at_once, events, start_review, version


def _form(client, task_id: int) -> dict[str, str]:
    return page_form(client, f"/tasks/{task_id}", note="已核实", action="complete")


def test_each_task_form_carries_a_fresh_token(client, people):
    _, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    first, second = _form(client, task_id), _form(client, task_id)
    assert first["submission_token"] != second["submission_token"]
    assert len(first["submission_token"]) >= 32


def test_a_retried_post_gets_the_first_answer_and_completes_once(client, people):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id)
    first = client.post(f"/tasks/{task_id}", data=form)
    again = client.post(f"/tasks/{task_id}", data=form)  # the answer to the first was lost
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert events("task_completed", task_id=task_id) == 1
    assert version(instance_id) == 2
    assert db.session.scalar(select(func.count()).select_from(SubmissionToken)) == 1


def test_without_the_token_a_second_post_is_told_it_was_already_done(client, people):
    _, task_id = start_review(people.class1.id, people.counselor1.id)
    login(client, "counselor1")
    form = _form(client, task_id)
    del form["submission_token"]
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    again = client.post(f"/tasks/{task_id}", data=form)
    assert again.status_code == 409
    assert events("task_completed", task_id=task_id) == 1


def _double_click(app, cookie: str, url: str, form: dict[str, str]) -> list:
    """POST the same form twice at the same moment, from the same signed-in browser."""
    def click(go):
        other = app.test_client()
        other.set_cookie("session", cookie)
        go()
        return other.post(url, data=form)

    return answers(at_once(click, click))


def test_a_double_click_sent_at_once_completes_once(app, client, people):
    login(client, "counselor1")
    for _ in range(25):
        instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
        form = _form(client, task_id)
        cookie = client.get_cookie("session").value  # the session that holds the CSRF token
        answers = _double_click(app, cookie, f"/tasks/{task_id}", form)
        assert [a.status_code for a in answers] == [302, 302]
        assert answers[0].headers["Location"] == answers[1].headers["Location"]
        assert events("task_completed", task_id=task_id) == 1
        assert version(instance_id) == 2
        assert db.session.get(TaskRow, task_id).state == "completed"


def test_old_tokens_are_purged_and_no_longer_replayed(app, people):
    from caseflow.services import tasks
    from tests.production.support import actor

    _, task_id = start_review(people.class1.id, people.counselor1.id)
    token = idempotency.new_token()
    done = tasks.submit(task_id, {"needs_approval": False, "note": "x"}, people.counselor1,
                        actor(people.counselor1), token)
    assert not done.replayed
    assert tasks.submit(task_id, {}, people.counselor1, actor(people.counselor1),
                        token).replayed
    assert idempotency.find(token, people.counselor2.id) is None  # someone else's token
    later = clock.now() + idempotency.KEEP + timedelta(minutes=1)
    with clock.pinned(later):
        assert idempotency.find(token, people.counselor1.id) is None
        assert idempotency.purge(force=True) == 1
    assert db.session.scalar(select(func.count()).select_from(SubmissionToken)) == 0


def test_a_double_click_on_the_warning_form_enters_one_warning(app, client, people):
    login(client, "security")
    for i in range(15):
        name = f"查无此人{i}"  # matches no student: the warning waits on the list
        form = page_form(client, "/warnings/new", name=name, fraud_type="fake_investment",
                          urgency="urgent", warned_at=forms.shown(clock.now()))
        cookie = client.get_cookie("session").value  # the session that holds the CSRF token
        answers = _double_click(app, cookie, "/warnings/new", form)
        assert [a.status_code for a in answers] == [302, 302]
        [warning] = db.session.scalars(select(PoliceWarning).where(
            PoliceWarning.name == name)).all()
        assert {a.headers["Location"] for a in answers} == {f"/warnings/{warning.id}"}
        assert events("warning_entered") == i + 1


def test_a_double_click_on_the_registration_form_registers_once(app, client, people):
    login(client, "counselor1")
    for i in range(8):
        student = factories.student(f"20249990{i:02d}", f"学生{i}", people.class1)
        db.session.commit()
        url = f"/cases/new/{student.id}"
        form = page_form(client, url, discovery_source="counselor_talk", category="victim",
                          fraud_type="order_brushing", what_happened="兼职刷单被骗",
                          loss_cny="8000", ongoing="no")
        cookie = client.get_cookie("session").value
        answers = _double_click(app, cookie, url, form)
        assert [a.status_code for a in answers] == [302, 302]
        [case] = db.session.scalars(select(Case).where(Case.student_id == student.id)).all()
        assert {a.headers["Location"] for a in answers} == {f"/cases/{case.id}"}
        assert events("case_opened", case_id=case.id) == 1
        assert events("finding_attached", case_id=case.id) == 0
        assert db.session.scalar(select(func.count(Finding.id)).where(
            Finding.case_id == case.id)) == 1
