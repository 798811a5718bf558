"""The functions every BPMN script may call: settings, due times, and the clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from caseflow import clock
from caseflow.settings_defaults import DUE_TIMES, OTHER

SettingsLookup = Callable[[str], Any]


def default_settings(key: str) -> Any:
    """Look a setting up in the defaults (used when no database is at hand, e.g. engine tests)."""
    if key.startswith("due."):
        return DUE_TIMES[key[4:]]
    return OTHER[key]


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(str(text))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def standard_functions(settings: SettingsLookup = default_settings) -> dict[str, Callable]:
    """Return the helper functions BPMN scripts and expressions can call."""

    def due_time(key: str, level: str | None = None) -> str:
        """Return the ISO 8601 due duration of task `key` at risk `level` (a school setting)."""
        table: Mapping[str, str] = settings(f"due.{key}")
        return table[level or "yellow"]

    def setting(key: str) -> Any:
        """Return a school setting's current value."""
        return settings(key)

    def now_iso() -> str:
        """Return the current time (UTC) as ISO 8601 text."""
        return clock.now().isoformat()

    def hours_since(text: str | None) -> float | None:
        """Return the hours elapsed since an ISO time, or None when there is none."""
        if not text:
            return None
        return (clock.now() - _parse(text)).total_seconds() / 3600

    return {"due_time": due_time, "setting": setting, "now_iso": now_iso,
            "hours_since": hours_since}
