"""Security headers, the 413 page, no secret in the repository, password rules."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from caseflow.services import auth
from tests.security.conftest import signin, token

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "instance", "__pycache__", "build", "dist", ".pytest_cache",
             ".ruff_cache", "test-output", "node_modules", "caseflow.egg-info"}
SKIP_SUFFIXES = {".mo", ".db", ".png", ".jpg", ".xlsx", ".pdf", ".gz", ".zip", ".ttf",
                 ".woff", ".woff2", ".ico", ".svg"}
KEY_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{36}"),
    re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"sk-[A-Za-z0-9]{32,}"),
    re.compile(r"(?i)(secret|api_?key|token|passw(or)?d)[\w]*['\"]?\s*[:=]\s*['\"]"
               r"[A-Za-z0-9+/=_\-]{32,}['\"]"),
]
# In the application (not the tests), a literal assigned to a secret-looking name.
APP_ASSIGNMENT = re.compile(r"(?i)\b(SECRET_KEY|AUDIT_KEY|password)\s*[=:]\s*['\"][^'\"]{6,}")


def _files():
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIP_DIRS or not path.is_file() or path.suffix in SKIP_SUFFIXES:
            continue
        if path.stat().st_size > 2_000_000:
            continue
        yield path


def test_no_secret_is_kept_in_the_repository():
    found = []
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="ignore")
        rel = path.relative_to(ROOT).as_posix()
        found += [f"{rel}: {p.pattern}" for p in KEY_PATTERNS if p.search(text)]
        if rel.startswith(("caseflow/", "workflows/")) and not rel.startswith("caseflow/data/"):
            found += [f"{rel}: {m.group(0)}" for m in APP_ASSIGNMENT.finditer(text)]
    assert not found, found
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "instance/" in ignored and "*.db" in ignored


def test_the_secret_key_is_generated_into_instance(tmp_path, monkeypatch):
    from caseflow import create_app

    for name in ("CASEFLOW_SECRET_KEY", "CASEFLOW_AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CASEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    key = tmp_path / "instance" / "secret_key"
    secret = app.config["SECRET_KEY"]
    assert key.read_text().strip() == secret and len(secret) >= 64
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


def test_every_answer_carries_the_security_headers(client, w):
    for path in ("/login", "/static/caseflow.js", "/no/such/page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "object-src 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
    signin(client, "counselor1")
    page = client.get(f"/cases/{w.a.id}")
    assert page.headers["Cache-Control"] == "no-store"
    https = client.get("/login", base_url="https://localhost")
    assert "max-age" in https.headers["Strict-Transport-Security"]


def test_an_oversized_upload_gets_a_clear_413_page(app, client, w):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    signin(client, "counselor1")
    answer = client.post(f"/tasks/{w.counselor_task.id}", data={
        "csrf_token": token(client), "note": "x" * 5000})
    assert answer.status_code == 413
    assert "上传内容过大" in answer.get_data(as_text=True)


@pytest.mark.parametrize("password, problem", [
    ("short1!", "too_short"), ("woaini1314", "common"), ("Password123", "common"),
    ("qwertyuiop", "common"), ("zhang123456", "common"), ("1qaz2wsx3edc", "common"),
    ("counselor1-is-me", "username"), ("aaaaaaaaaaaa", "simple")])
def test_weak_passwords_are_refused(password, problem):
    assert auth.password_problems(password, "counselor1") == [problem]


def test_good_passwords_pass_and_the_list_is_long():
    assert auth.password_problems("春眠不觉晓处处闻啼鸟", "counselor1") == []
    assert auth.password_problems("blue-kettle-Harbour-91", "counselor1") == []
    common = auth.common_passwords()
    assert len(common) >= 10_000 and {"woaini1314", "5201314", "123456789a"} <= common


def test_the_password_screen_says_what_is_wrong(client, w):
    signin(client, "counselor1")
    answer = client.post("/account/password", data={
        "csrf_token": token(client), "current_password": "nope",
        "new_password": "woaini1314", "repeat_password": "woaini1314"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "当前密码不正确" in html and "最常见密码" in html


def test_the_security_screens_are_well_formed(app, client, w):
    from tests.views.test_html_quality import check

    signin(client, "counselor1")
    pages = ["/account/password", "/account/second-factor",
             f"/cases/{w.a.id}/reveal?field=phone", f"/cases/{w.a.id}"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        check(answer.get_data(as_text=True))
    shown = client.post(f"/cases/{w.a.id}/reveal?field=phone",
                        data={"csrf_token": token(client), "purpose": "电话联系学生"})
    check(shown.get_data(as_text=True))
    refused = client.post(f"/cases/{w.a.id}/reveal?field=phone",
                          data={"csrf_token": token(client), "purpose": ""})
    check(refused.get_data(as_text=True))
    app.config["MAX_CONTENT_LENGTH"] = 100
    check(client.post("/account/password", data={"x": "y" * 500}).get_data(as_text=True))
