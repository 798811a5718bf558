"""CSRF on every POST route; user text shown as text everywhere; SQL metacharacters in
every search box give normal answers."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow import access
from caseflow.db import db
from caseflow.models import AuditEvent, Guardian, Student, TaskRow
from caseflow.services import setup
from tests.conftest import DATA, login
from tests.security.conftest import signin, token
from tests.views import support

SCRIPT = "<script>a()</script>"  # with IMG and an id, fits the 50-character name
IMG = '"><img src=x onerror=a()>'


def _path(app, rule) -> str:
    values = {name: 1 if isinstance(conv, type(app.url_map.converters["int"]))
              or conv.__class__.__name__ == "IntegerConverter" else "x"
              for name, conv in rule._converters.items()}
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def test_every_post_route_refuses_a_form_without_its_token(app, client, w):
    signin(client, "affairs")
    posts = [r for r in app.url_map.iter_rules() if "POST" in (r.methods or ())
             and access.route_rule(r.endpoint) != access.TOKEN]
    assert len(posts) >= 10
    before = db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    for rule in posts:
        path = _path(app, rule)
        for data in ({"x": "1"}, {"csrf_token": "forged", "x": "1"}):
            answer = client.post(path, data=data)
            assert answer.status_code == 400, f"{rule.rule} {data}: {answer.status_code}"
    after = db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert after == before  # nothing was done, so nothing was recorded


def test_sign_in_itself_needs_the_token(client, w):
    answer = client.post("/login", data={"username": "affairs", "password": "x"})
    assert answer.status_code == 400


def _hostile_world(w) -> None:
    """Put the payloads into every user-typed place: names, notes, a step name."""
    for student in db.session.scalars(select(Student)):
        student.name = f"{SCRIPT}{IMG}{student.id}"
    for guardian in db.session.scalars(select(Guardian)):
        guardian.name = f"{IMG}家长"
    db.session.commit()


def _check(html: str, where: str) -> None:
    assert SCRIPT not in html and "<img src=x" not in html, where
    assert not re.search(r"<[^>]*\sonerror=", html), where


def test_payloads_are_shown_as_text_everywhere(app, client, w):
    _hostile_world(w)
    # a step named with a payload (BPMN is deployed by admins, still never trusted)
    text = (DATA / "referral_test.bpmn").read_text().replace(
        'name="谈心谈话"', 'name="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img '
                         'src=x onerror=alert(1)&gt;谈话"')
    setup.deploy_sources({"referral_test.bpmn": text.encode()}, "test")
    case = support.open_case(w.student3, counselor_id=w.counselor3.id)
    signin(client, "counselor3")
    talk = db.session.scalar(select(TaskRow).where(TaskRow.case_id == case.id))
    html = client.get(f"/tasks/{talk.id}").get_data(as_text=True)
    _check(html, "task screen")
    client.post(f"/tasks/{talk.id}", data={
        "csrf_token": token(client), "reached_how": "phone", "talked_at": "2024-03-01T10:00",
        "note": SCRIPT + IMG})
    pages = ["/", "/notifications", f"/cases/{case.id}", f"/cases/{case.id}/history",
             "/cases", "/cases?q=%3Cscript", f"/students/{w.student3.id}",
             f"/cases/{case.id}/reveal?field=phone", "/cases/new?q=2024",
             f"/cases/new/{w.student3.id}"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        html = answer.get_data(as_text=True)
        _check(html, path)
    file = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in file  # the text is there, escaped
    svg = file[file.index("<svg"):file.index("</svg>")]
    assert "&lt;script&gt;" in svg and "<script" not in svg  # diagram labels
    signin(client, "affairs")
    for path in ["/", "/cases", f"/cases/{case.id}", "/reports", "/reports/cases",
                 f"/reports/brief/{w.college2.id}", f"/students/{w.student3.id}"]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        _check(answer.get_data(as_text=True), path)


# `|safe` only on HTML that caseflow's own autoescaped templates rendered (a brief's body,
# kept as issued); never on a value a person typed.
SAFE_ALLOWED = {"reports/brief.html": "{{body|safe}}", "reports/brief_print.html":
                "{{body|safe}}", "reports/issued.html": "{{row.html|safe}}"}


def test_templates_never_mark_user_text_safe():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        compact = text.replace(" ", "").replace(SAFE_ALLOWED.get(
            path.relative_to(root).as_posix(), "\0"), "")
        assert "|safe" not in compact, path
        assert "autoescape false" not in text, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {path}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline handler in {path}"


def test_autoescape_is_on_for_every_template(app):
    env = app.jinja_env
    for name in env.list_templates(extensions=["html"]):
        assert env.autoescape(name) if callable(env.autoescape) else env.autoescape, name


METACHARACTERS = ["'", "' OR '1'='1", "\" OR 1=1 --", "%", "_", "\\", "'; DROP TABLE student; --",
                  "张三' --", "%' UNION SELECT password_hash FROM user_account --"]


@pytest.mark.parametrize("q", METACHARACTERS)
def test_sql_metacharacters_in_search_boxes_return_normal_results(client, w, q):
    login(client, "affairs")
    for path in ("/cases", "/cases/new"):
        answer = client.get(path, query_string={"q": q})
        assert answer.status_code == 200, (path, q)
        html = answer.get_data(as_text=True)
        assert "scrypt:" not in html and w.a.number not in html, (path, q)
    assert db.session.scalar(select(Student.id).limit(1)) is not None  # the table is intact
    found = client.get("/cases", query_string={"q": "张三"}).get_data(as_text=True)
    assert w.a.number in found


def test_an_export_writes_a_formula_looking_name_as_text(client, w):
    import io

    from openpyxl import load_workbook

    w.student1.name = '=HYPERLINK("http://evil.example/","点我")'
    db.session.commit()
    login(client, "affairs")
    answer = client.get("/reports/export/cases.xlsx")
    sheet = load_workbook(io.BytesIO(answer.data)).worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row if "HYPERLINK" in str(c.value)]
    assert cells and all(c.data_type == "s" for c in cells)
