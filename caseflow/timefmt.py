"""Show times in Asia/Shanghai (they are stored in UTC)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(value: datetime | None) -> datetime | None:
    """Return `value` in Asia/Shanghai."""
    return value.astimezone(SHANGHAI) if value is not None else None


def short(value: datetime | None) -> str:
    """Format a time as 2026-11-23 15:48 in Asia/Shanghai ('' for none)."""
    return local(value).strftime("%Y-%m-%d %H:%M") if value is not None else ""
