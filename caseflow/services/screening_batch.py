"""Take in many classes' screening sheets in one call: a whole round's, read in parallel.

`import_many` takes a whole round's sheets (a college's, or the school's) at once: the
sheets are read in worker processes while this one writes, and written in chunks of one
commit each; every sheet is still all or nothing on its own. Checking, writing and filing
one sheet is `screening_import`'s.
"""

from __future__ import annotations

import io
import multiprocessing
import re
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from caseflow.audit import Actor
from caseflow.db import db
from caseflow.engine import EngineError, ProcessFault
from caseflow.models import Klass, ScreeningClass, TaskRow, User, WorkflowInstance
from caseflow.services import NotFound, ServiceError, ValidationFailed, screening, sheets
from caseflow.services.screening_import import (
    ImportResult,
    check_user,
    file_flagged,
    rosters,
    take,
    take_one,
)

Outcome = ImportResult | ServiceError


@dataclass(frozen=True)
class Upload:
    """One sheet of a batch: for which class, its bytes, and who sends it."""

    class_code: str
    data: bytes
    user: User
    actor: Actor


TEMPLATE_NAME = re.compile(r"摸排_[^_]+_(?P<klass>.+)\.(?:xlsx|csv)$", re.IGNORECASE)


def class_of(file_name: str, data: bytes) -> str | None:
    """Return the class a sheet is for: from the template's file name
    (摸排_<round>_<class>.xlsx / .csv), else from the mark caseflow's .xlsx template
    carries; None if neither says. (A sheet named for another class than it was made for
    is refused when read: its mark must match.)"""
    named = TEMPLATE_NAME.search(file_name)
    if named:
        return named.group("klass")
    if not data.startswith(sheets.XLSX_MAGIC):
        return None
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, keep_links=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return None
    try:
        return sheets.marks(book.properties.keywords or "").get("class")
    finally:
        book.close()


def uploads_of(files: list[tuple[str, bytes]], user: User | None,
               actor_of: Callable[[User], Actor], round_id: int | None = None
               ) -> list[Upload | ServiceError]:
    """Turn (file name, bytes) into uploads, each sent by `user` or else by its class's
    counselor; a file whose class cannot be told or has no counselor gets why instead."""
    codes = [class_of(name, data) for name, data in files]
    counselors = dict(db.session.execute(
        select(Klass.code, ScreeningClass.counselor_id)
        .join(Klass, Klass.id == ScreeningClass.class_id)
        .where(Klass.code.in_({c for c in codes if c}),
               *([ScreeningClass.round_id == round_id] if round_id else []))
        .order_by(ScreeningClass.round_id)).all())  # the latest round wins
    people = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({c for c in counselors.values() if c})))}
    out: list[Upload | ServiceError] = []
    for (_, data), code in zip(files, codes, strict=True):
        sender = user or people.get(counselors.get(code or "", 0) or 0)
        if code is None:
            why = ("cannot tell which class this sheet is for: keep the template's file "
                   "name (摸排_<round>_<class>.xlsx), or import it alone for its class")
            out.append(ValidationFailed({"file": [why]}, why))
        elif code not in counselors:
            out.append(NotFound(f"class {code!r} is in no screening round"))
        elif sender is None:
            out.append(NotFound(f"class {code} has no counselor: say who sends its sheet"))
        else:
            out.append(Upload(code, data, sender, actor_of(sender)))
    return out


def _read_job(job: tuple[bytes, int, sheets.Roster | None]) -> Any:
    """Read one sheet (in a worker process); return its lines, or the problems."""
    try:
        return sheets.read(*job)
    except sheets.SheetRejected as exc:
        return exc.problems


def _read_all(jobs: list[tuple[bytes, int, sheets.Roster | None]], workers: int
              ) -> Iterator[Any]:
    if workers <= 1 or len(jobs) < 2 * workers:
        yield from map(_read_job, jobs)
        return
    # fork: the children only parse bytes; they never touch the database and leave by
    # os._exit, so the parent's connections are left alone.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_read_job, jobs, chunksize=8)


def import_many(uploads: list[Upload], round_id: int | None = None, workers: int = 1,
                chunk: int = 100, file_cases: bool = True) -> list[Outcome]:
    """Import many classes' sheets; return per sheet its result or why it was refused.

    With `file_cases` False the flagged students' cases are left to
    `screening_import.file_pending` (the worker job), so the sheets are in at once and
    the cases follow within seconds.
    `workers` > 1 forks reader processes: for the CLI and batch jobs, not in a request.
    """
    found = dict(db.session.execute(
        select(Klass.code, ScreeningClass.id).join(Klass, Klass.id == ScreeningClass.class_id)
        .where(Klass.code.in_({u.class_code for u in uploads}),
               *([ScreeningClass.round_id == round_id] if round_id else []))
        .order_by(ScreeningClass.round_id)).all())  # the latest round wins
    # Rosters are plain values: no ORM object stays in the session for the whole batch,
    # so the many commits (one per flagged student) have little to expire.
    people = rosters(db.session.scalars(select(ScreeningClass).options(
        joinedload(ScreeningClass.klass)).where(ScreeningClass.id.in_(found.values()))).all())
    words, limit = screening.vocab(), screening.max_upload()
    jobs = [(u.data, limit, people.get(found.get(u.class_code, 0))) for u in uploads]
    results: list[Outcome] = []
    batch: list[tuple[int, Upload, int, tuple[str, sheets.Lines]]] = []
    for upload, read in zip(uploads, _read_all(jobs, workers), strict=True):
        results.append(NotFound(f"class {upload.class_code!r} is in no screening round"))
        if upload.class_code not in found:
            continue
        if isinstance(read, list):
            results[-1] = sheets.SheetRejected(read)
            continue
        batch.append((len(results) - 1, upload, found[upload.class_code], read))
        if len(batch) >= chunk:
            _write_batch(batch, people, words, results, file_cases)
            batch = []
    _write_batch(batch, people, words, results, file_cases)
    return results


def _write_batch(batch: list[Any], people: dict[int, sheets.Roster], words: sheets.Vocab,
                 results: list[Outcome], file_cases: bool) -> None:
    """Write a chunk in one commit; if a write fails, redo its sheets one by one."""
    classes, loaded = _load_chunk([sc_id for _, _, sc_id, _ in batch])
    batch = [(index, upload, classes[sc_id], read) for index, upload, sc_id, read in batch]
    try:
        for index, upload, sc, (kind, lines) in batch:
            results[index] = _attempt(take, sc, people[sc.id], lines, kind, upload, words)
        db.session.commit()
        del loaded  # what the filing's many commits need not expire
    except (IntegrityError, StaleDataError, EngineError, ProcessFault):
        db.session.rollback()
        for index, upload, sc, (kind, lines) in batch:
            results[index] = _attempt(take_one, sc, people[sc.id], lines, kind, upload, words)
        return
    for index, upload, sc, _ in batch:
        result = results[index]
        if file_cases and isinstance(result, ImportResult) and (sc.flagged or result.already):
            try:
                result.cases_opened, result.findings_attached = file_flagged(
                    sc, upload.user, upload.actor, commit=False)
            except ServiceError as exc:  # refused before it wrote: the rest still counts
                result.filing_error = str(exc)
    db.session.commit()


def _load_chunk(ids: list[int]) -> tuple[dict[int, ScreeningClass], list[Any]]:
    """Load a chunk's classes, tasks and instances in three queries (then found by id)."""
    classes = {sc.id: sc for sc in db.session.scalars(
        select(ScreeningClass).where(ScreeningClass.id.in_(ids)))}
    tasks = db.session.scalars(select(TaskRow).where(
        TaskRow.id.in_([sc.task_id for sc in classes.values() if sc.task_id]))).all()
    instances = db.session.scalars(select(WorkflowInstance).where(
        WorkflowInstance.id.in_([t.instance_id for t in tasks]))).all()
    return classes, [*tasks, *instances]


def _attempt(step: Any, sc: ScreeningClass, people: sheets.Roster, lines: sheets.Lines,
             kind: str, upload: Upload, words: sheets.Vocab) -> Outcome:
    try:
        check_user(upload.user, sc)
        return step(sc, people, lines, kind, upload.user, upload.actor, words)
    except ServiceError as exc:
        return exc
