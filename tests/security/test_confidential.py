"""Confidential notes and unmasked numbers never reach a page, export, audit detail or log
line of someone who may not see them; drafts never keep confidential notes."""

from __future__ import annotations

import io
import json
import logging

from openpyxl import load_workbook
from sqlalchemy import select

from caseflow import security
from caseflow.db import db
from caseflow.models import AuditEvent, TaskDraft, TaskRow
from caseflow.services import drafts
from caseflow.services import tasks as task_service
from tests.security.conftest import BANK, NOTE, signin, token
from tests.views import support

PHONE, ID_CARD, GUARDIAN = "13800000000", "370102200501011233", "13900000000"
NUMBERS = (PHONE, ID_CARD, GUARDIAN, BANK)
USERS = ("counselor1", "counselor2", "officer1", "officer2", "psych", "security", "affairs",
         "leader", "admin")


def _counsel(w) -> None:
    """The psych centre accepts the referral and records a session with its notes."""
    task_service.complete_task(w.accept.id, {"accept": "accept"}, w.psych, support.ACTOR)
    session = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Session",
                                                      TaskRow.state == "ready"))
    task_service.complete_task(session.id, {"notes": NOTE, "risk_assessment": "low"}, w.psych,
                               support.ACTOR)
    w.session_task = session


def _text(answer) -> str:
    if answer.mimetype and "spreadsheet" in answer.mimetype:
        book = load_workbook(io.BytesIO(answer.data))
        return " ".join(str(c.value) for s in book.worksheets for row in s.iter_rows()
                        for c in row if c.value is not None)
    return answer.get_data(as_text=True)


def _pages(w, username: str) -> list[str]:
    pages = ["/", "/notifications", "/cases", f"/cases/{w.a.id}", f"/cases/{w.a.id}/history",
             f"/students/{w.student1.id}", f"/reports/cases/{w.a.id}/history.xlsx",
             "/reports/export/cases.xlsx", "/reports/cases.xlsx", f"/tasks/{w.accept.id}",
             f"/tasks/{w.session_task.id}", f"/tasks/{w.counselor_task.id}",
             f"/cases/{w.a.id}/reveal?field=phone", f"/cases/{w.a.id}/reveal?field=id_card"]
    return pages


def test_no_page_or_export_shows_a_secret_to_anyone_not_allowed(app, client, w, caplog):
    caplog.set_level(logging.DEBUG)
    _counsel(w)
    for username in USERS:
        signin(client, username)
        for path in _pages(w, username):
            answer = client.get(path)
            if answer.status_code != 200:
                continue
            text = _text(answer)
            for number in NUMBERS:
                assert number not in text, (username, path, number)
            if username != "psych":
                assert NOTE not in text, (username, path)
        client.post("/logout", data={"csrf_token": token(client)})
    signin(client, "psych")
    assert NOTE in client.get(f"/cases/{w.a.id}").get_data(as_text=True)  # its own notes
    for record in caplog.records:
        message = record.getMessage()
        assert NOTE not in message and not any(n in message for n in NUMBERS), message


def test_the_audit_trail_holds_numbers_masked_and_notes_only_as_digests(app, w):
    _counsel(w)
    details = " ".join(db.session.scalars(select(AuditEvent.detail)))
    assert NOTE not in details and BANK not in details
    assert "************9876" in details  # the bank account, masked, with a keyed digest
    talk = json.loads(db.session.scalar(select(AuditEvent.detail).where(
        AuditEvent.event_type == "task_completed", AuditEvent.task_id == w.talk_done.id)))
    assert set(talk["data"]["bank_account"]) == {"masked", "digest"}


def test_a_draft_never_keeps_the_confidential_notes(app, client, w):
    task_service.complete_task(w.accept.id, {"accept": "accept"}, w.psych, support.ACTOR)
    session = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Session",
                                                      TaskRow.state == "ready"))
    signin(client, "psych")
    answer = client.post(f"/tasks/{session.id}", data={
        "csrf_token": token(client), "action": "draft", "notes": NOTE,
        "risk_assessment": "high"})
    assert answer.status_code == 302
    stored = db.session.scalar(select(TaskDraft.data).where(TaskDraft.task_id == session.id))
    assert NOTE not in stored and json.loads(stored)["risk_assessment"] == "high"
    page = client.get(f"/tasks/{session.id}").get_data(as_text=True)
    assert NOTE not in page
    saved, _at = drafts.load(session.id, w.psych)
    assert "notes" not in saved


def test_log_lines_mask_identifying_numbers(caplog):
    security.install_log_masking()
    caplog.set_level(logging.INFO)
    logging.getLogger("caseflow.test").info("lookup %s / %s / card %s", PHONE, ID_CARD, BANK)
    logging.getLogger("werkzeug").info('"GET /cases?q=%s HTTP/1.1" 200', PHONE)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert not any(n in text for n in NUMBERS)
    assert "138****0000" in text and "3701**********1233" in text and "9876" in text
    assert security.mask_text("case AF2026000001 at 2024-03-01") == \
        "case AF2026000001 at 2024-03-01"
