"""Change and describe the school settings (the admin screen and `caseflow settings`).

A change is validated, written, and audited (`setting_changed` with the old and new
value and the reason) in one commit; a refused change writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from caseflow import audit, clock, settings
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import Setting, User
from caseflow.services import ValidationFailed
from caseflow.settings_defaults import GROUPS, Entry

REASON_MAX = 500
_REASON_MISSING = ("请填写修改理由", "give the reason for the change")
_REASON_LONG = (f"理由不能超过{REASON_MAX}字",
                f"the reason must be at most {REASON_MAX} characters")
_UNCHANGED = ("与当前值相同，未作修改", "this is the current value: nothing to change")


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang.lower().startswith("en") else pair[0]


@dataclass(frozen=True)
class SettingChange:
    """A change that was saved."""

    key: str
    old: Any
    new: Any
    reason: str
    changed_at: datetime
    note_pair: tuple[str, str] | None = None

    def note(self, lang: str = "zh") -> str | None:
        """Return what the change means beyond its value (e.g. the lead office), if anything."""
        return _pick(self.note_pair, lang) if self.note_pair else None

    def summary(self, lang: str = "zh") -> str:
        """Return one line: the setting, its old and its new value, in words."""
        entry = settings.definition(self.key)
        old, new = (settings.display(self.key, v, lang) for v in (self.old, self.new))
        return f"{_pick(entry.label, lang)} ({self.key}): {old} → {new}"


@dataclass(frozen=True)
class SettingInfo:
    """One setting as the admin screen and the CLI show it."""

    key: str
    group: str
    group_label: str
    label: str
    meaning: str
    kind: str
    per_level: bool
    value: Any
    default: Any
    display: str
    default_display: str
    is_default: bool
    edit: Any
    choices: list[tuple[str, str]]
    note: str | None
    changed_by: str | None
    changed_at: datetime | None


def change(key: str, raw_value: Any, reason: str, actor: Actor, user_id: int | None,
           lang: str = "en") -> SettingChange:
    """Validate and save a new value with its reason; audit it; commit once."""
    entry = _entry_or_refuse(key, lang)
    row = db.session.get(Setting, key, populate_existing=True, with_for_update=True)
    old = settings.decode(key, row.value) if row is not None else settings.default(key)
    new, errors = _validate(entry, raw_value, reason, old, lang)
    if errors:
        db.session.rollback()
        raise ValidationFailed(errors)
    now = clock.now()
    if row is None:
        row = Setting(key=key)
        db.session.add(row)
    row.value, row.updated_at, row.updated_by = _json(new), now, user_id
    clean_reason = reason.strip()
    audit.record("setting_changed", actor,
                 detail={"key": key, "old": old, "new": new, "reason": clean_reason})
    db.session.commit()
    settings.forget()
    return SettingChange(key, old, new, clean_reason, now, entry.note)


def _entry_or_refuse(key: str, lang: str) -> Entry:
    try:
        return settings.definition(key)
    except settings.UnknownSetting:
        message = (f"unknown setting {key!r}: `caseflow settings list` shows them"
                   if lang.startswith("en") else f"没有名为“{key}”的设置")
        raise ValidationFailed({"key": [message]}) from None


def _validate(entry: Entry, raw: Any, reason: str | None, old: Any,
              lang: str) -> tuple[Any, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    new = None
    try:
        new = settings.parse(entry.key, raw)
    except settings.Invalid as exc:
        errors[entry.key] = [exc.text(lang)]
    else:
        if new == old:
            errors[entry.key] = [_pick(_UNCHANGED, lang)]
    text = (reason or "").strip()
    if not text:
        errors["reason"] = [_pick(_REASON_MISSING, lang)]
    elif len(text) > REASON_MAX:
        errors["reason"] = [_pick(_REASON_LONG, lang)]
    return new, errors


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def describe_all(lang: str = "zh") -> list[SettingInfo]:
    """Return every setting in screen order: value, default, meaning, last change."""
    rows = db.session.execute(
        select(Setting, User.display_name, User.username)
        .join(User, User.id == Setting.updated_by, isouter=True)).all()
    stored = {row.key: (row, name or username) for row, name, username in rows}
    return [_info(entry, stored.get(entry.key), lang) for entry in settings.definitions()]


def describe(key: str, lang: str = "zh") -> SettingInfo:
    """Return one setting as `describe_all` shows it; raise UnknownSetting."""
    entry = settings.definition(key)
    found = db.session.execute(
        select(Setting, User.display_name, User.username)
        .join(User, User.id == Setting.updated_by, isouter=True)
        .where(Setting.key == key)).first()
    row = (found[0], found[1] or found[2]) if found else None
    return _info(entry, row, lang)


def _info(entry: Entry, stored: tuple[Setting, str | None] | None, lang: str) -> SettingInfo:
    key, default = entry.key, settings.default(entry.key)
    row, who = stored if stored else (None, None)
    value = settings.decode(key, row.value) if row is not None else default
    if row is not None and row.updated_by is None:
        who = None
    choices = [(code, _pick(names, lang))
               for code, names in entry.options.get("choices", {}).items()]
    return SettingInfo(
        key=key, group=entry.group, group_label=_pick(GROUPS[entry.group], lang),
        label=_pick(entry.label, lang), meaning=_pick(entry.meaning, lang), kind=entry.kind,
        per_level=settings.kind(key).per_level, value=value, default=default,
        display=settings.display(key, value, lang),
        default_display=settings.display(key, default, lang), is_default=value == default,
        edit=settings.edit_value(key, value), choices=choices,
        note=_pick(entry.note, lang) if entry.note else None, changed_by=who,
        changed_at=row.updated_at if row is not None else None)


def grouped(infos: list[SettingInfo]) -> list[tuple[str, str, list[SettingInfo]]]:
    """Group settings for the screen: (group, group label, settings), in screen order."""
    out: dict[str, tuple[str, str, list[SettingInfo]]] = {}
    for info in infos:
        out.setdefault(info.group, (info.group, info.group_label, []))[2].append(info)
    return list(out.values())
