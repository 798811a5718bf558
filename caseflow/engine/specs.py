"""Parsed process specs, cached in memory by the hash of their deployed source."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ParsedProcess:
    """A process spec ready to run: the top spec and the specs of what it calls."""

    process_id: str
    source_hash: str
    spec: Any
    subprocess_specs: dict[str, Any]
    lanes: tuple[str, ...] = field(default=())
    human_tasks: tuple[tuple[str, str, str | None], ...] = field(default=())  # (id, name, lane)


def source_hash(files: Mapping[str, str | bytes]) -> str:
    """Return the SHA-256 of a set of source files (name and content, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name]
        data = content.encode("utf-8") if isinstance(content, str) else content
        digest.update(name.encode("utf-8") + b"\0" + data + b"\0")
    return digest.hexdigest()


class SpecCache:
    """Keep one parsed spec per source hash; parsing happens once per process lifetime."""

    def __init__(self) -> None:
        self._items: dict[str, ParsedProcess] = {}
        self._lock = threading.Lock()

    def get(self, key: str, build: Callable[[], ParsedProcess]) -> ParsedProcess:
        """Return the cached spec for `key`, building it on first use."""
        found = self._items.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._items.get(key)
            if found is None:
                found = build()
                self._items[key] = found
            return found

    def parsed_keys(self) -> list[str]:
        """Return the keys ("process_id:source_hash") of the specs parsed so far."""
        return list(self._items)

    def clear(self) -> None:
        """Forget every cached spec (tests)."""
        with self._lock:
            self._items.clear()


SPECS = SpecCache()
