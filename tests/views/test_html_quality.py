"""Every screen: unique ids, a label for every field, live aria references, no inline
script or style, the page language; and user text is escaped everywhere."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from caseflow.db import db
from caseflow.models import Student, TaskRow
from tests.conftest import csrf_token, login


class Checker(HTMLParser):
    """Collect what the checks need from one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.labels_for: set[str] = set()
        self.fields: list[tuple[str, dict]] = []
        self.refs: list[str] = []
        self.inline: list[str] = []
        self.open_labels = 0
        self.lang = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.labels_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append((tag, {**a, "_wrapped": self.open_labels > 0}))
        for key in ("aria-describedby", "aria-labelledby"):
            self.refs.extend((a.get(key) or "").split())
        if tag == "script" and not a.get("src"):
            self.inline.append("script")
        if "style" in a or tag == "style" or any(k.startswith("on") for k in a):
            self.inline.append(tag)

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels -= 1


def check(html: str) -> None:
    page = Checker()
    page.feed(html)
    assert page.lang in ("zh-CN", "en")
    dupes = {i for i in page.ids if page.ids.count(i) > 1}
    assert not dupes, f"duplicate ids: {dupes}"
    for tag, a in page.fields:
        named = a["_wrapped"] or a.get("id") in page.labels_for or a.get("aria-label")
        assert named, f"{tag} {a.get('name')} has no label"
    missing = set(page.refs) - set(page.ids)
    assert not missing, f"aria references to nothing: {missing}"
    assert not page.inline, f"inline script, style or handlers: {page.inline}"


XSS = '<script>alert(1)</script>"><img src=x onerror=a()>'  # fits name (50)


@pytest.fixture
def hostile(world):
    """A student whose name is an XSS payload, on the open case."""
    student = db.session.get(Student, world.student1.id)
    student.name = XSS
    db.session.commit()
    return world


def test_every_screen_is_well_formed_and_escapes_user_text(client, hostile):
    world = hostile
    login(client, "counselor1")
    task = db.session.scalar(select(TaskRow).where(TaskRow.task_spec == "Talk"))
    pages = ["/", f"/tasks/{task.id}", f"/cases/{world.case.id}",
             f"/cases/{world.case.id}/history", "/cases", "/notifications",
             "/cases/new?q=2024", f"/cases/new/{world.student1.id}", "/login"]
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    bad = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(html), "note": XSS})
    check(bad.get_data(as_text=True))
    for url in pages:
        answer = client.get(url)
        text = answer.get_data(as_text=True)
        assert answer.status_code in (200, 503), url
        check(text)
        assert "<script>alert" not in text and "<img src=x" not in text, url
    login(client, "officer1")
    check(client.get(f"/tasks/{task.id}/reassign").get_data(as_text=True))
    check(client.get("/?lang=en").get_data(as_text=True))
