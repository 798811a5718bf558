"""School settings: a typed registry (defaults, validation, display) and `get`.

The catalogue (groups, labels, meanings, defaults) is data in `settings_defaults`; this
module adds a type ("kind") per setting that parses raw input strictly, and shows a
value in Chinese or English. A value is stored (JSON in the `setting` table) only once
it was changed; `get` returns the stored value or the default, reading the table once
per database transaction.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import g, has_app_context, has_request_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from caseflow.db import db
from caseflow.models import Setting
from caseflow.settings_defaults import CATALOGUE, GROUPS, RISK_LEVELS, Entry

log = logging.getLogger(__name__)

REGISTRY: dict[str, Entry] = {entry.key: entry for entry in CATALOGUE}
LEVEL_NAMES = {"red": ("红色", "red"), "orange": ("橙色", "orange"), "yellow": ("黄色", "yellow")}
_CACHE = "caseflow_settings"


class UnknownSetting(KeyError):
    """No setting has this key."""


class Invalid(ValueError):
    """A value a setting refuses, with the reason in Chinese and English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en

    def text(self, lang: str) -> str:
        """Return the reason in `lang` ('zh…' or 'en…')."""
        return self.en if _is_en(lang) else self.zh


def _is_en(lang: str) -> bool:
    return str(lang).lower().startswith("en")


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if _is_en(lang) else pair[0]


# -- durations -------------------------------------------------------------------------

_DURATION = re.compile(r"P(?:(?P<weeks>\d+)W|(?:(?P<days>\d+)D)?"
                       r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
                       r"(?:(?P<seconds>\d+)S)?)?)")
_UNITS = (("weeks", "W", 604800, "周", "week", "weeks"), ("days", "D", 86400, "天", "day", "days"),
          ("hours", "H", 3600, "小时", "hour", "hours"), ("minutes", "M", 60, "分钟", "min", "min"),
          ("seconds", "S", 1, "秒", "s", "s"))
MAX_DURATION = timedelta(days=366)
_EXAMPLES = ("（如 PT30M 即30分钟，PT24H 即24小时，P7D 即7天）",
             " (e.g. PT30M = 30 minutes, PT24H = 24 hours, P7D = 7 days)")


def duration_parts(text: str) -> dict[str, int]:
    """Split a strict ISO 8601 duration into its non-zero parts; raise Invalid if it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid("请填写时长" + _EXAMPLES[0], "give a duration" + _EXAMPLES[1])
    clean = text.strip().upper()
    if clean.startswith("-"):
        raise Invalid(f"“{text}”是负数：时长必须大于零", f"'{text}' is negative: a duration "
                      "must be longer than zero")
    found = _DURATION.fullmatch(clean)
    if found is None:
        if clean.startswith("P") and re.search(r"\d[YM]", clean.split("T")[0]):
            raise Invalid("请用天数而不是年、月" + _EXAMPLES[0],
                          "use days, not years or months" + _EXAMPLES[1])
        raise Invalid(f"“{text}”不是 ISO 8601 时长" + _EXAMPLES[0],
                      f"'{text}' is not an ISO 8601 duration" + _EXAMPLES[1])
    parts = {name: int(v) for name, v in found.groupdict().items() if v and int(v)}
    if not parts:
        raise Invalid("时长必须大于零", "a duration must be longer than zero")
    if duration_timedelta(parts) > MAX_DURATION:
        raise Invalid("时长不能超过366天", "a duration must be at most 366 days")
    return parts


def duration_timedelta(value: str | dict[str, int]) -> timedelta:
    """Return the length of an ISO 8601 duration (text, or parts from `duration_parts`)."""
    parts = duration_parts(value) if isinstance(value, str) else value
    return timedelta(seconds=sum(parts.get(name, 0) * secs for name, _, secs, *_ in _UNITS))


def canonical_duration(text: str) -> str:
    """Return the duration in canonical form ('pt0h30m' → 'PT30M'); raise Invalid if bad."""
    parts = duration_parts(text)
    date_part = "".join(f"{parts[n]}{u}" for n, u, *_ in _UNITS[:2] if n in parts)
    time_part = "".join(f"{parts[n]}{u}" for n, u, *_ in _UNITS[2:] if n in parts)
    return f"P{date_part}" + (f"T{time_part}" if time_part else "")


def format_duration(text: str, lang: str = "zh") -> str:
    """Show a duration in words: PT1H30M → 1小时30分钟 / 1 hour 30 min."""
    parts = duration_parts(text)
    words = []
    for name, _, _, zh, one, many in _UNITS:
        if name in parts:
            n = parts[name]
            words.append(f"{n} {one if n == 1 else many}" if _is_en(lang) else f"{n}{zh}")
    return (" " if _is_en(lang) else "").join(words)


# -- kinds: parse raw input, show a value, give the form's text ------------------------


@dataclass(frozen=True)
class Kind:
    """How one type of setting is parsed, shown, and put into an edit form."""

    parse: Callable[[Any, dict[str, Any]], Any]
    show: Callable[[Any, str, dict[str, Any]], str]
    edit: Callable[[Any], Any]
    per_level: bool = False


def _json_text(raw: Any, opener: str) -> Any:
    if isinstance(raw, str) and raw.strip().startswith(opener):
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise Invalid("不是有效的 JSON", f"not valid JSON: {exc}") from exc
    return raw


def _level_pairs(raw: Any) -> Any:
    raw = _json_text(raw, "{")
    if not (isinstance(raw, str) and re.search(r"[=:：]", raw)):
        return raw
    out = {}
    text = re.sub(r"\s*([=:：])\s*", "=", raw.strip())
    for pair in (p for p in re.split(r"[\s,;，；]+", text) if p):
        found = re.fullmatch(r"([^=]+)=(.*)", pair)
        if found is None:
            raise Invalid(f"“{pair}”应写作 等级=值，如 red=PT2H",
                          f"'{pair}' should read level=value, e.g. red=PT2H")
        out[found.group(1).lower()] = found.group(2)
    return out


def _per_level(raw: Any, item: Callable[[Any], Any], single_ok: bool) -> dict[str, Any]:
    raw = _level_pairs(raw)
    if not isinstance(raw, dict):
        if not single_ok:
            raise Invalid("请按风险等级填写，如 red=4 orange=2 yellow=1",
                          "give one value per level, e.g. red=4 orange=2 yellow=1")
        value = item(raw)
        return {level: value for level in RISK_LEVELS}
    unknown = sorted(set(raw) - set(RISK_LEVELS))
    if unknown:
        raise Invalid(f"未知的风险等级“{unknown[0]}”：应为 red、orange、yellow",
                      f"unknown risk level '{unknown[0]}': use red, orange and yellow")
    out = {}
    for level in RISK_LEVELS:
        zh, en = LEVEL_NAMES[level]
        if raw.get(level) in (None, ""):
            raise Invalid(f"{zh}：请填写", f"{en}: give a value")
        try:
            out[level] = item(raw[level])
        except Invalid as exc:
            raise Invalid(f"{zh}：{exc.zh}", f"{en}: {exc.en}") from exc
    return out


def _show_levels(value: dict[str, Any], lang: str, show: Callable[[Any], str]) -> str:
    if len(set(value.values())) == 1:
        same = show(value[RISK_LEVELS[0]])
        return f"{same} at every level" if _is_en(lang) else f"各等级均为{same}"
    sep = "; " if _is_en(lang) else "；"
    return sep.join(f"{_pick(LEVEL_NAMES[lv], lang)} {show(value[lv])}" for lv in RISK_LEVELS)


def _integer(raw: Any, opts: dict[str, Any]) -> int:
    if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d+\s*%?\s*", raw) and (
            "%" not in raw or opts.get("percent")):
        raw = int(raw.replace("%", ""))
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise Invalid(f"“{raw}”不是整数", f"'{raw}' is not a whole number")
    low, high = opts.get("min", 0), opts.get("max", 10_000)
    if not low <= raw <= high:
        zh, en = opts.get("range") or (f"须在 {low} 到 {high} 之间",
                                       f"must be from {low} to {high}")
        raise Invalid(f"{raw}：{zh}", f"{raw}: {en}")
    return raw


def _unit(n: int, lang: str, opts: dict[str, Any]) -> str:
    zh, one, many = opts.get("unit", ("", "", ""))
    return f"{n} {one if n == 1 else many}".strip() if _is_en(lang) else f"{n}{zh}"


def _choice(raw: Any, opts: dict[str, Any]) -> str:
    choices: dict[str, tuple[str, str]] = opts["choices"]
    text = raw.strip() if isinstance(raw, str) else raw
    if text not in choices:
        zh = "、".join(f"{code}（{names[0]}）" for code, names in choices.items())
        en = ", ".join(choices)
        raise Invalid(f"“{raw}”不是可选值，可选：{zh}", f"'{raw}' is not one of: {en}")
    return str(text)


def _date_list(raw: Any, opts: dict[str, Any]) -> list[str]:
    raw = _json_text(raw, "[")
    if isinstance(raw, str):
        raw = [p for p in re.split(r"[\s,;，；、]+", raw) if p]
    if not isinstance(raw, list):
        raise Invalid("请填写日期列表，如 2025-09-01, 2026-02-23",
                      "give a list of dates, e.g. 2025-09-01, 2026-02-23")
    days = set()
    for item in raw:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(item)):
                raise ValueError(item)
            days.add(date.fromisoformat(str(item)).isoformat())
        except ValueError as exc:
            raise Invalid(f"“{item}”不是日期（格式如 2025-09-01）",
                          f"'{item}' is not a date (YYYY-MM-DD, e.g. 2025-09-01)") from exc
    if len(days) > 100:
        raise Invalid("最多100个日期", "at most 100 dates")
    return sorted(days)


def _show_dates(value: list[str], lang: str, opts: dict[str, Any]) -> str:
    if not value:
        return "none set" if _is_en(lang) else "未设置"
    return (", " if _is_en(lang) else "、").join(value)


def _show_cutoff(value: int, lang: str, opts: dict[str, Any]) -> str:
    if value == 0:
        return "calendar month" if _is_en(lang) else "自然月"
    return f"day {value}" if _is_en(lang) else f"每月{value}日"


def _show_month(value: int, lang: str, opts: dict[str, Any]) -> str:
    return date(2000, value, 1).strftime("%B") if _is_en(lang) else f"{value}月"


_CUTOFF_RANGE = ("须为0（自然月）或1到28之间的日期", "must be 0 (the calendar month) or a day "
                 "from 1 to 28")

KINDS: dict[str, Kind] = {
    "duration": Kind(lambda raw, o: canonical_duration(raw),
                     lambda v, lang, o: format_duration(v, lang), str),
    "due_levels": Kind(lambda raw, o: _per_level(raw, canonical_duration, single_ok=True),
                       lambda v, lang, o: _show_levels(v, lang, lambda d: format_duration(d, lang)),
                       dict, per_level=True),
    "due_flat": Kind(lambda raw, o: _flat(_per_level(raw, canonical_duration, single_ok=True)),
                     lambda v, lang, o: format_duration(v[RISK_LEVELS[0]], lang),
                     lambda v: v[RISK_LEVELS[0]]),
    "count": Kind(_integer, lambda v, lang, o: _unit(v, lang, o), str),
    "level_counts": Kind(lambda raw, o: _per_level(raw, lambda x: _integer(x, o), single_ok=False),
                         lambda v, lang, o: _show_levels(v, lang, lambda n: _unit(n, lang, o)),
                         lambda v: {lv: str(n) for lv, n in v.items()}, per_level=True),
    "choice": Kind(_choice, lambda v, lang, o: _pick(o["choices"][v], lang), str),
    "date_list": Kind(_date_list, _show_dates, ", ".join),
    "cutoff_day": Kind(lambda raw, o: _integer(raw, {**o, "range": _CUTOFF_RANGE}),
                       _show_cutoff, str),
    "month": Kind(_integer, _show_month, str),
    "percent": Kind(lambda raw, o: _integer(raw, {**o, "percent": True}),
                    lambda v, lang, o: f"{v}%", str),
}


def _flat(levels: dict[str, str]) -> dict[str, str]:
    if len(set(levels.values())) > 1:
        raise Invalid("各风险等级须相同：请只填一个时长",
                      "the same for every level: give one duration")
    return levels


# -- the registry ----------------------------------------------------------------------


def definition(key: str) -> Entry:
    """Return the setting `key`'s description, or raise UnknownSetting."""
    try:
        return REGISTRY[key]
    except KeyError:
        raise UnknownSetting(f"unknown setting {key!r}") from None


def definitions() -> Iterator[Entry]:
    """Yield every setting in screen order (by group, then as catalogued)."""
    order = list(GROUPS)
    yield from sorted(CATALOGUE, key=lambda e: order.index(e.group))


def kind(key: str) -> Kind:
    """Return the type of setting `key`."""
    return KINDS[definition(key).kind]


def parse(key: str, raw: Any) -> Any:
    """Turn raw input (form text, CLI text, JSON value) into a valid value; raise Invalid."""
    entry = definition(key)
    return KINDS[entry.kind].parse(raw, entry.options)


def display(key: str, value: Any, lang: str = "zh") -> str:
    """Show a value of setting `key` in words, in Chinese or English."""
    entry = definition(key)
    return KINDS[entry.kind].show(value, lang, entry.options)


def edit_value(key: str, value: Any) -> Any:
    """Return what an edit form shows for a value (text, or text per risk level)."""
    return kind(key).edit(value)


def default(key: str) -> Any:
    """Return the default of setting `key`."""
    return _copy(definition(key).default)


def decode(key: str, text: str) -> Any:
    """Read a stored JSON value; fall back to the default (logged) when it is not valid."""
    try:
        return parse(key, json.loads(text))
    except (ValueError, TypeError) as exc:
        log.warning("setting %s holds an invalid value %r (%s); using the default", key, text, exc)
        return default(key)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    return list(value) if isinstance(value, list) else value


def _stored() -> dict[str, Any]:
    # Read once a transaction, and once a web request: a page commits several times.
    session = db.session()
    cached = session.info.get(_CACHE)
    if cached is None and has_request_context():
        cached = session.info[_CACHE] = g.get(_CACHE)
    if cached is None:
        rows = session.execute(select(Setting.key, Setting.value)).all()
        cached = {key: decode(key, text) for key, text in rows if key in REGISTRY}
        session.info[_CACHE] = cached
        if has_request_context():
            setattr(g, _CACHE, cached)
    return cached


@event.listens_for(Session, "after_transaction_end")
def _forget_at_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CACHE, None)


def forget(session: Session | None = None) -> None:
    """Drop the values read in this transaction, so the next `get` reads the table again."""
    (session or db.session()).info.pop(_CACHE, None)
    if has_request_context():
        g.pop(_CACHE, None)


def get(key: str) -> Any:
    """Return a setting's value (keys like 'lead_office' or 'due.triage_review')."""
    entry = definition(key)
    if not has_app_context():
        return _copy(entry.default)
    stored = _stored()
    return _copy(stored.get(key, entry.default))


def lead_office_role() -> str:
    """Return the role that holds the lead office (牵头部门)."""
    return str(get("lead_office"))
