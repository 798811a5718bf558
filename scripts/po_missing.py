"""Print the messages of a .po catalogue that have no translation yet (and exit 1 if any)."""

from __future__ import annotations

import sys

from babel.messages.pofile import read_po

with open(sys.argv[1], "rb") as fh:
    catalog = read_po(fh)
missing = [m.id for m in catalog if m.id and not m.string]
for msgid in missing:
    print(f"untranslated: {msgid!r}")
sys.exit(1 if missing else 0)
