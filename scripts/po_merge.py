"""Merge translation fragments (caseflow/translations/zh_pending/*.json: {msgid: 中文})
into the zh catalogue, then list what is still untranslated (exit 1 if anything is)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

po_path = Path(sys.argv[1])
pending = Path(sys.argv[2]) if len(sys.argv) > 2 else po_path.parents[2] / "zh_pending"
with po_path.open("rb") as fh:
    catalog = read_po(fh)
fragments: dict[str, str] = {}
for part in sorted(pending.glob("*.json")):
    fragments.update(json.loads(part.read_text(encoding="utf-8")))
for message in catalog:
    if message.id and not message.string and message.id in fragments:
        message.string = fragments[message.id]
with po_path.open("wb") as fh:
    write_po(fh, catalog, width=100)
missing = [m.id for m in catalog if m.id and not m.string]
for msgid in missing:
    print(f"untranslated: {msgid!r}")
sys.exit(1 if missing else 0)
