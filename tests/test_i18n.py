"""The Chinese catalogue is complete and the compiled one matches it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

LC = Path(__file__).resolve().parents[1] / "caseflow" / "translations" / "zh" / "LC_MESSAGES"


def test_every_message_is_translated_and_compiled():
    with (LC / "messages.po").open("rb") as fh:
        po = read_po(fh)
    missing = [m.id for m in po if m.id and not m.string]
    assert not missing, f"untranslated (run scripts/i18n): {missing[:10]}"
    with (LC / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    compiled = {m.id: m.string for m in mo if m.id}
    stale = [m.id for m in po if m.id and compiled.get(m.id) != m.string]
    assert not stale, f".mo is older than .po (run scripts/i18n): {stale[:10]}"


def test_templates_follow_the_request_language_and_force_locale(app):
    """The per-request catalogue answers in the request's language; force_locale wins."""
    from flask import render_template_string
    from flask_babel import force_locale

    page = '{{ _("My tasks") }}'
    with app.app_context(), app.test_request_context("/?lang=en"):  # a fresh g, as a request has
        app.preprocess_request()
        assert render_template_string(page) == "My tasks"
        with force_locale("zh_CN"):
            assert render_template_string(page) == "我的待办"
        assert render_template_string(page) == "My tasks"
    with app.app_context(), app.test_request_context("/"):
        app.preprocess_request()
        assert render_template_string(page) == "我的待办"
