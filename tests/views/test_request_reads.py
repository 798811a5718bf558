"""What one page reads: the session and user once, the badges counted once, no rereads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from caseflow.db import db
from caseflow.models import TaskRow
from tests.conftest import login


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        seen.append(re.sub(r"\s+", " ", statement))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def _from(table: str, seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and f" FROM {table} " in f"{s} "]


def test_the_inbox_reads_the_user_once_and_counts_open_tasks_once(client, world):
    login(client, "counselor1")
    with statements() as seen:
        html = client.get("/").get_data(as_text=True)
    assert '<span class="sr-only">1 项待办</span>' in html
    assert len(_from("user_account", seen)) == 1
    # the running session is checked in the same read as the user, not on its own
    assert not _from("login_session", seen)
    assert "JOIN login_session" in _from("user_account", seen)[0]
    assert len([s for s in seen if s.startswith("SELECT count(task.id)")]) == 1


def test_a_filtered_inbox_still_counts_every_open_task_for_the_navigation(client, world):
    login(client, "counselor1")
    html = client.get("/?risk=yellow").get_data(as_text=True)
    assert "暂无待办任务" in html  # the filter leaves the red case out...
    assert '<span class="sr-only">1 项待办</span>' in html  # ...the navigation does not


def test_the_task_screen_reads_the_task_and_the_user_once(client, world):
    login(client, "counselor1")
    task = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))
    with statements() as seen:
        page = client.get(f"/tasks/{task.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "张三" in html
    assert len(_from("user_account", seen)) == 1
    # the navigation's two badges are counted in one statement
    assert '<span class="sr-only">1 项待办</span>' in html
    badges = [s for s in seen if "count(task.id)" in s or "count(notification.id)" in s]
    assert len(badges) == 1 and "count(notification.id)" in badges[0]
    rows = [s for s in _from("task", seen) if s.startswith("SELECT task.id, task.instance_id")]
    assert len(rows) == 1
    assert any(s.startswith("INSERT INTO audit_event") for s in seen)  # the view is recorded
