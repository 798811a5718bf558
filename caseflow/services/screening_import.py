"""Take in a class's screening, typed row by row or uploaded as a sheet: all or nothing.

Checked first (`sheets`): any bad row refuses the whole sheet and nothing is written.
Then, in one transaction: one `screening_entry` per student, the class's row, and the
class screening task completed with a summary (follow-up dates become reminder timers).
After that commit each flagged student's case is opened or the finding attached
(`cases.register` commits per student); the entry keeps the case, so sending the same
sheet again creates nothing twice and only finishes what an interrupted import left.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from caseflow import access, audit, clock, timefmt
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import EngineError, ProcessFault
from caseflow.models import (
    Klass,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
    Student,
    TaskRow,
    User,
    WorkflowInstance,
)
from caseflow.services import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    cases,
    commit_work,
    faults,
    runner,
    screening,
    sheet_templates,
    sheets,
)
from workflows import class_screening as cs

log = logging.getLogger(__name__)
ENTRIES = ScreeningEntry.__table__
REMIND_AT = time(8, 0)  # the reminder opens at 08:00 (Asia/Shanghai) on the follow-up day
KEYS = ("student_no", "name", "status", "category", "fraud_type", "note", "reason",
        "followup_on")


@dataclass
class ImportResult:
    """What one import did."""

    screening_class: ScreeningClass
    source: str
    entries: int
    already: bool = False
    cases_opened: int = 0
    findings_attached: int = 0
    followups: int = 0
    filing_error: str | None = None  # a flagged student's case could not be opened yet


def find_class(class_code: str, round_id: int | None = None) -> ScreeningClass:
    """Return a class's screening in a round (default: the latest round that has it)."""
    query = (select(ScreeningClass).join(Klass, Klass.id == ScreeningClass.class_id)
             .where(Klass.code == class_code))
    if round_id is not None:
        query = query.where(ScreeningClass.round_id == round_id)
    found = db.session.scalar(query.order_by(ScreeningClass.round_id.desc()).limit(1))
    if found is None:
        raise NotFound(f"class {class_code!r} is in no screening round")
    return found


def rosters(classes: list[ScreeningClass]) -> dict[int, sheets.Roster]:
    """Return the students each class's sheet must list: the class's, in the round's scope."""
    out: dict[int, sheets.Roster] = {}
    by_round: dict[int, list[ScreeningClass]] = defaultdict(list)
    for sc in classes:
        by_round[sc.round_id].append(sc)
    for round_id, items in by_round.items():
        rnd = db.session.get(ScreeningRound, round_id)
        people: dict[int, list[sheets.RosterStudent]] = defaultdict(list)
        for row in db.session.execute(
                select(Student.class_id, Student.id, Student.student_no, Student.name,
                       Student.hardship | Student.academic_difficulty | Student.psych_watch)
                .join(Klass).where(Student.class_id.in_([sc.class_id for sc in items]),
                                   screening.round_filter(rnd))
                .order_by(Student.student_no)):
            people[row[0]].append(sheets.RosterStudent(row[1], row[2], row[3], bool(row[4])))
        for sc in items:
            out[sc.id] = sheets.Roster(sc.klass.code, sc.klass.name, rnd.number,
                                       timefmt.short(sc.due_at), tuple(people[sc.class_id]))
    return out


def roster(sc: ScreeningClass) -> sheets.Roster:
    """Return the students one class's sheet must list."""
    return rosters([sc])[sc.id]


def check_user(user: User | None, sc: ScreeningClass) -> None:
    """Refuse a user who may not screen this class (no user: the CLI, allowed)."""
    if user is not None and not access.may_screen_class(user, sc.class_id, sc.college_id):
        raise Forbidden("only the class's counselor or college officer may do this")


def template(class_code: str, kind: str = "xlsx", user: User | None = None,
             round_id: int | None = None) -> tuple[str, bytes]:
    """Return (file name, content) of a class's template (.xlsx or .csv)."""
    sc = find_class(class_code, round_id)
    check_user(user, sc)
    people = roster(sc)
    name = f"摸排_{people.round_no}_{class_code}.{kind}"
    if kind == "csv":
        return name, sheet_templates.template_csv(people)
    return name, sheet_templates.template_xlsx(people, screening.vocab())


def import_sheet(class_code: str, data: bytes, user: User, actor: Actor,
                 round_id: int | None = None) -> ImportResult:
    """Import an uploaded .xlsx/.csv sheet for a class, or raise SheetRejected."""
    sc = find_class(class_code, round_id)
    check_user(user, sc)
    people = roster(sc)
    kind, lines = sheets.read(data, screening.max_upload(), people)
    return take_one(sc, people, lines, kind, user, actor, screening.vocab())


def submit_rows(screening_class_id: int, rows: list[dict[str, Any]], user: User,
                actor: Actor, before_commit: Callable[[ImportResult], None] | None = None
                ) -> ImportResult:
    """Take in the rows typed into the class screening form (numbered from 1)."""
    sc = db.session.get(ScreeningClass, screening_class_id)
    if sc is None:
        raise NotFound(f"no class screening {screening_class_id}")
    check_user(user, sc)
    lines = [(0, list(cs.COLUMNS))] + [(n, [r.get(k) for k in KEYS])
                                        for n, r in enumerate(rows, 1)]
    return take_one(sc, roster(sc), lines, "form", user, actor, screening.vocab(),
                    before_commit)


def complete_task(task_id: int, data: dict[str, Any], user: User, actor: Actor,
                  before_commit: Callable[[TaskRow], None] | None = None) -> TaskRow:
    """Complete a `screen_class` task from form data (COMPLETED_BY): its rows, checked."""
    from caseflow.services import tasks as task_service

    row = task_service.get_task(task_id, user)
    sc = db.session.scalar(select(ScreeningClass).where(ScreeningClass.task_id == row.id))
    if sc is None:
        raise NotFound(f"no class screening for task {task_id}")
    rows = data.get("rows")
    hook = (lambda _taken: before_commit(row)) if before_commit is not None else None
    submit_rows(sc.id, list(rows) if isinstance(rows, list) else [], user, actor, hook)
    db.session.refresh(row)
    return row


def take_one(sc: ScreeningClass, people: sheets.Roster, lines: sheets.Lines, kind: str,
             user: User, actor: Actor, words: sheets.Vocab,
             before_commit: Callable[[ImportResult], None] | None = None) -> ImportResult:
    """Check and write one class's lines in their own commit, then file its flagged cases."""
    try:
        result = take(sc, people, lines, kind, user, actor, words)
        if not result.already:
            commit_work(result, before_commit)
    except (IntegrityError, StaleDataError, EngineError) as exc:
        db.session.rollback()
        raise Conflict("this class's screening was submitted at the same time by someone "
                       "else: reload") from exc
    except ProcessFault as exc:
        raise faults.failed(exc, actor, task_id=sc.task_id,
                            doing=f"importing the screening of class {people.class_code}"
                            ) from exc
    try:
        result.cases_opened, result.findings_attached = file_flagged(sc, user, actor)
    except ServiceError as exc:  # the sheet is in; sending it again files what is left
        result.filing_error = str(exc)
    return result


def take(sc: ScreeningClass, people: sheets.Roster, lines: sheets.Lines, kind: str,
         user: User, actor: Actor, words: sheets.Vocab) -> ImportResult:
    """Check the lines and write them (no commit); a sheet sent again writes nothing."""
    elsewhere = _elsewhere(set(sheets.student_numbers(lines))
                           - {s.student_no for s in people.students})
    today = timefmt.local(clock.now()).date()
    rows = sheets.check(lines, people, words, today, elsewhere)
    digest = sheets.digest(rows)
    if sc.state == "done":
        if sc.sheet_digest != digest:
            raise Conflict(f"the screening of class {people.class_code} was already submitted "
                           f"at {timefmt.short(sc.done_at)}; register a finding for any change")
        return ImportResult(sc, kind, 0, already=True)
    followups = _write(sc, rows, people, kind, digest, user, actor)
    return ImportResult(sc, kind, len(rows), followups=followups)


def _elsewhere(numbers: set[str]) -> dict[str, str]:
    if not numbers:
        return {}
    return dict(db.session.execute(select(Student.student_no, Klass.code).join(Klass)
                                   .where(Student.student_no.in_(numbers))).all())


def _write(sc: ScreeningClass, rows: list[sheets.Row], people: sheets.Roster, source: str,
           digest: str, user: User, actor: Actor) -> int:
    now = clock.now()
    task = db.session.get(TaskRow, sc.task_id) if sc.task_id else None
    if task is None or task.state != "ready":
        raise Conflict(f"the screening task of class {people.class_code} is not open")
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.status] += 1
    db.session.execute(insert(ENTRIES), [_entry(sc, r, user, now) for r in rows])
    followups = _followups(rows, {s.student_id: s.name for s in people.students})
    data = cs.summary(counts, followups, source, digest)
    scope = screening.Scope(f"{people.round_no} {people.class_code}", sc.college_id,
                            sc.class_id, sc.counselor_id)
    instance = db.session.get(WorkflowInstance, task.instance_id)
    runner.act(instance, lambda run: run.complete(task.spiff_task_id, data), actor,
               case=scope, completed=task)  # type: ignore[arg-type]
    task.state, task.completed_at, task.completed_by = "completed", now, user.id
    sc.state, sc.done_at, sc.done_by, sc.source, sc.sheet_digest = (
        "done", now, user.id, source, digest)
    sc.talked, sc.flagged, sc.not_reached = (counts["talked"], counts["flagged"],
                                             counts["not_reached"])
    audit.record("task_completed", actor, task_id=task.id, detail={
        "step": task.task_spec, "name": task.name,
        "data": {k: v for k, v in data.items() if k != "followups"}})
    audit.record("screening_submitted", actor, task_id=task.id, detail={
        "class": people.class_code, "round": people.round_no, "source": source,
        "digest": digest, "counts": dict(counts), "followup_days": [f["on"] for f in followups]})
    return len(followups)


def _entry(sc: ScreeningClass, row: sheets.Row, user: User, now: datetime) -> dict[str, Any]:
    return {"round_id": sc.round_id, "screening_class_id": sc.id, "class_id": sc.class_id,
            "student_id": row.student_id, "status": row.status, "category": row.category,
            "fraud_type": row.fraud_type, "behaviour": row.behaviour, "note": row.note,
            "reason": row.reason, "followup_on": row.followup_on, "case_id": None,
            "entered_by": user.id, "entered_at": now}


def _at(day: date, at: time) -> str:
    return datetime.combine(day, at, timefmt.SHANGHAI).astimezone(UTC).isoformat()


def _followups(rows: list[sheets.Row], names: dict[int, str]) -> list[dict[str, Any]]:
    days: dict[date, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        if row.followup_on is not None:
            days[row.followup_on].append({"student_no": row.student_no,
                                          "name": names.get(row.student_id, "")})
    return [{"on": day.isoformat(), "remind_at": _at(day, REMIND_AT),
             "due_at": _at(day + timedelta(days=1), time(0, 0)), "students": people}
            for day, people in sorted(days.items())]


def file_flagged(sc: ScreeningClass, user: User, actor: Actor, commit: bool = True
                 ) -> tuple[int, int]:
    """Open or attach the case of each flagged student of a class not filed yet.

    Returns (cases opened, findings attached). `cases.register` commits once per student,
    with the entry's link to its case in the same commit, so a filing cut short (a crash, a
    failing model: ProcessFailed) never leaves a case its entry does not know, and filing
    again attaches nothing twice. (`commit`: also commit what the caller added.)
    """
    entries = db.session.scalars(select(ScreeningEntry).where(
        ScreeningEntry.screening_class_id == sc.id, ScreeningEntry.status == "flagged",
        ScreeningEntry.case_id.is_(None)).order_by(ScreeningEntry.id)).all()
    opened = attached = 0
    for entry in entries:
        def link(done: tuple[Any, bool], entry: ScreeningEntry = entry) -> None:
            entry.case_id = done[0].id

        try:
            _case, new = cases.register(entry.student_id, _registration(entry), user, actor,
                                        source="screening", before_commit=link)
        except ProcessFault as exc:
            raise faults.failed(exc, actor, task_id=sc.task_id, doing="filing the flagged "
                                f"students of class screening {sc.id}") from exc
        opened, attached = opened + new, attached + (not new)
    if entries and commit:
        db.session.commit()
    return opened, attached


def file_pending(limit: int = 200) -> tuple[int, int]:
    """Open the cases imports left open: flagged entries without a case (the worker job).

    An import done with `file_cases=False` (`screening_batch.import_many`), or one whose
    filing was interrupted, leaves them; each is filed as the person who entered it.
    Returns (opened, attached).
    """
    pending = db.session.execute(
        select(ScreeningEntry.screening_class_id, ScreeningEntry.entered_by)
        .where(ScreeningEntry.status == "flagged", ScreeningEntry.case_id.is_(None))
        .group_by(ScreeningEntry.screening_class_id, ScreeningEntry.entered_by)
        .limit(limit)).all()
    opened = attached = 0
    now = clock.now()
    for sc_id, user_id in pending:
        sc = db.session.get(ScreeningClass, sc_id)
        if faults.failed_lately(sc.task_id, now):
            continue  # its process failed: tried again an hour later, not every round
        user = db.session.get(User, user_id)
        try:
            done = file_flagged(sc, user, Actor(user.id, user.username, "counselor"),
                                commit=False)
        except ServiceError as exc:
            log.warning("flagged students of class screening %s not filed: %s", sc_id, exc)
            continue
        opened, attached = opened + done[0], attached + done[1]
    if pending:
        db.session.commit()
    return opened, attached


def _registration(entry: ScreeningEntry) -> dict[str, Any]:
    data = {"discovery_source": "screening", "category": entry.category,
            "what_happened": f"涉诈隐患摸排：{entry.note}",
            "discovered_at": clock.now().isoformat()}
    if entry.category == "involved":
        data["behaviour"] = entry.behaviour or "other"
    else:
        data["fraud_type"] = entry.fraud_type
    return data
