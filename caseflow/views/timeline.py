"""The history timeline of a case file: every audit event, described for the viewer."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from markupsafe import Markup

from caseflow.services.bpmninfo import BpmnInfo
from caseflow.services.casefile import CaseFile, LazyDetail
from caseflow.timefmt import short
from caseflow.views import fast_gettext as _
from caseflow.views import labels
from caseflow.views.present import Item, lookups, registration_items, step_items, when

Event = Any  # a row of audit_event
Describer = Callable[[Event, Mapping[str, Any], "_Ctx"], list[Item]]


@dataclass
class Entry:
    """One line of the history."""

    seq: int
    at: datetime
    when: str  # `at` in Asia/Shanghai, as shown
    actor: str
    role: str
    event_type: str
    title: str
    step: str | None
    result: str
    items: list[Item] = field(default_factory=list)


def _words() -> dict[str, str]:
    """Return the words the descriptions use, translated once per history."""
    return {
        "Role": _("Role"), "Due": _("Due"), "Previous holder": _("Previous holder"),
        "New holder": _("New holder"), "Reason": _("Reason"), "Path taken": _("Path taken"),
        "Notified": _("Notified"), "Opened from": _("Opened from"), "Fields": _("Fields"),
        "Yes": _("Yes"), "No": _("No"), "System": _("System"),
        "case_file": _("case file"), "task": _("task screen"), "print": _("printable history"),
        "Process version": _("Process version"),
        "Changed for this case": _("Changed for this case"),
    }


@dataclass
class _Ctx:
    file: CaseFile
    lang: str
    confidential_ok: bool
    tasks: dict[int, tuple[str, str]]  # task id -> (process id, task spec)
    info: BpmnInfo | None = None
    words: dict[str, str] = field(default_factory=_words)
    roles: dict[str, str] = field(default_factory=lambda: _table(labels.ROLES))

    def person(self, user_id: Any) -> str:
        if not isinstance(user_id, int):
            return "—"
        return self.file.people.get(user_id, f"#{user_id}")


def _task_completed(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    process_id, spec = ctx.tasks.get(ev.task_id or 0, (ctx.file.summary.case.process_id,
                                                       str(d.get("step", ""))))
    return step_items(process_id, spec, d.get("data") or {}, ctx.lang, ctx.confidential_ok,
                      ctx.file.people, ctx.file.notes.get(ev.task_id or 0))


def _table(table: Mapping[str, Any]) -> dict[str, str]:
    return {code: str(text) for code, text in table.items()}


def _task_opened(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    w, role = ctx.words, d.get("role")
    items = [Item(w["Role"], ctx.roles.get(role, role))] if role else []
    if d.get("due_at"):
        items.append(Item(w["Due"], when(d["due_at"])))
    return items


def _reassigned(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    w = ctx.words
    items = [Item(w["Previous holder"], ctx.person(d.get("from"))),
             Item(w["New holder"], ctx.person(d.get("to")))]
    if d.get("reason"):
        items.append(Item(w["Reason"], str(d["reason"])))
    return items


def _facts(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    return registration_items(ctx.file.summary.case.process_id, d.get("facts") or {}, ctx.lang)


def _decision(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    outputs = d.get("outputs") or {}
    return [Item(str(k), _compact(v, ctx)) for k, v in outputs.items()]


def _gateway(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    info = ctx.info
    names = [info.names.get(info.element(str(t)), str(t)) if info else str(t)
             for t in d.get("taken") or []]
    return [Item(ctx.words["Path taken"], "、".join(names) or "—")]


def _engine_event(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    items = []
    if d.get("targets"):
        items.append(Item(ctx.words["Notified"], "、".join(ctx.roles.get(t, t)
                                                           for t in d["targets"])))
    if d.get("due"):
        items.append(Item(ctx.words["Due"], when(d["due"])))
    return items


def _migrated(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    info = ctx.info
    changed = [info.names.get(info.element(str(e)), str(e)) if info else str(e)
               for e in d.get("changed") or []]
    items = [Item(ctx.words["Process version"],
                  f"{d.get('from_version', '?')} → {d.get('to_version', '?')}")]
    if changed:
        items.append(Item(ctx.words["Changed for this case"], "、".join(changed)))
    return items


def _viewed(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    via = str(d.get("via") or "")
    return [Item(ctx.words["Opened from"], ctx.words.get(via, via))] if via else []


def _draft(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    return [Item(ctx.words["Fields"], str(len(d.get("fields") or [])))]


def _generic(ev: Event, d: Mapping[str, Any], ctx: _Ctx) -> list[Item]:
    skip = {"step", "name", "element", "data", "facts", "number", "properties"}
    return [Item(str(k), _compact(v, ctx)) for k, v in d.items() if k not in skip and v not in
            (None, "", [], {})]


def _compact(value: Any, ctx: _Ctx) -> str:
    if isinstance(value, dict):
        return "；".join(f"{k}: {_compact(v, ctx)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_compact(v, ctx) for v in value)
    if isinstance(value, bool):
        return ctx.words["Yes"] if value else ctx.words["No"]
    text = str(value)
    return text if len(text) <= 300 else text[:300] + "…"


DESCRIBERS: dict[str, Describer] = {
    "task_completed": _task_completed,
    "task_opened": _task_opened,
    "task_reassigned": _reassigned,
    "case_reassigned": _reassigned,
    "case_opened": _facts,
    "finding_attached": _facts,
    "decision_made": _decision,
    "gateway_passed": _gateway,
    "timer_fired": _engine_event,
    "escalation_raised": _engine_event,
    "event_thrown": _engine_event,
    "case_viewed": _viewed,
    "task_draft_saved": _draft,
    "process_migrated": _migrated,
}


def entries(file: CaseFile, lang: str, confidential_ok: bool, event_type: str | None = None,
            info: BpmnInfo | None = None) -> list[Entry]:
    """Return the case's history, oldest first, optionally of one event type.

    `info` (the case's BPMN) lets engine events name the steps as drawn.
    """
    make = _maker(file, lang, confidential_ok, info)
    return [make(ev, detail) for ev, detail in file.events
            if not event_type or ev.event_type == event_type]


def _maker(file: CaseFile, lang: str, confidential_ok: bool, info: BpmnInfo | None
           ) -> Callable[[Event, Mapping[str, Any]], Entry]:
    """Return a function describing one event of this case for this viewer."""
    tasks = {t.id: (t.process_id, t.task_spec) for t in [*file.open_tasks, *file.done_tasks]}
    names = {t.id: t.name for t in [*file.open_tasks, *file.done_tasks]}
    ctx = _Ctx(file, lang, confidential_ok, tasks, info)
    titles, system = _table(labels.EVENTS), ctx.words["System"]

    def make(ev: Event, detail: Mapping[str, Any]) -> Entry:
        detail = detail.decoded() if isinstance(detail, LazyDetail) else detail
        describe = DESCRIBERS.get(ev.event_type, _generic)
        actor = system if ev.actor == "system" else (
            file.people.get(ev.actor_id or 0) or ev.actor)
        step = detail.get("name") or names.get(ev.task_id or 0) or detail.get("step")
        return Entry(ev.seq, ev.at, short(ev.at), actor,
                     ctx.roles.get(ev.actor_role, ev.actor_role or ""), ev.event_type,
                     titles.get(ev.event_type, ev.event_type), str(step) if step else None,
                     ev.result, describe(ev, detail, ctx))

    return make


# Audit events never change, so an event's HTML is kept once made: per event (its chain
# hash) and per viewer context (language, confidential access, and a fingerprint of the
# names and labels it may show), so a renamed person or edited list is drawn afresh.
_CACHE: OrderedDict[tuple[str, str], Markup] = OrderedDict()
_LOCK = threading.Lock()
CACHE_SIZE = 50_000


def history(file: CaseFile, lang: str, confidential_ok: bool, event_type: str | None = None,
            info: BpmnInfo | None = None) -> list[Markup]:
    """Return the case's history as HTML list items, oldest first (of one type, if given)."""
    event = current_app.jinja_env.get_template("_event.html").module.event  # type: ignore
    context = _fingerprint(file, lang, confidential_ok)
    make = None
    out = []
    for ev, detail in file.events:
        if event_type and ev.event_type != event_type:
            continue
        key = (ev.hash, context)
        html = _CACHE.get(key)
        if html is None:
            make = make or _maker(file, lang, confidential_ok, info)
            html = Markup(event(make(ev, detail)))
            with _LOCK:
                _CACHE[key] = html
                if len(_CACHE) > CACHE_SIZE:
                    _CACHE.popitem(last=False)
        out.append(html)
    return out


def clear_cache() -> None:
    """Forget every cached event (benchmarks measure cold views with this)."""
    with _LOCK:
        _CACHE.clear()


def _fingerprint(file: CaseFile, lang: str, confidential_ok: bool) -> str:
    people = sorted(file.people.items())
    notes = sorted((k, sorted(v.items())) for k, v in file.notes.items())
    text = repr((lang, confidential_ok, people, notes, lookups(lang)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_types(file: CaseFile) -> list[tuple[str, str]]:
    """Return (type, label) of the event types in the case's history."""
    seen = sorted({ev.event_type for ev, _d in file.events})
    return [(t, labels.label(labels.EVENTS, t)) for t in seen]
