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
