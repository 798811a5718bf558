"""Screening sheets: reading and checking an upload (the template: `sheet_templates`).

A sheet is all-or-nothing: `read` and `check` collect every problem (row number as in the
sheet, column header, why) and raise `SheetRejected` with all of them; nothing is
written here. Files are type-checked by content (xlsx: a zip with a workbook; CSV: UTF-8
with or without BOM, else GB18030) and read with openpyxl in read-only mode or `csv`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import has_app_context, has_request_context
from flask_babel import force_locale, gettext

from caseflow.services import ValidationFailed
from workflows.class_screening import (
    CATEGORY_BY_LABEL,
    COLUMNS,
    SHEET_MESSAGES,
    STATUS_BY_LABEL,
)

XLSX_MAGIC, XLS_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
LIMITS = {"说明": 2000, "未联系原因": 200, "诈骗类型": 60}
FILE = "文件"
_EXCEL_EPOCH = date(1899, 12, 30)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d\d)(\d\d)")


@dataclass(frozen=True)
class RosterStudent:
    """A student the sheet must list (in the round's scope for the class)."""

    student_id: int
    student_no: str
    name: str
    key_group: bool = False


@dataclass(frozen=True)
class Roster:
    """The class, the round, its due date (shown), and every student in scope."""

    class_code: str
    class_name: str
    round_no: str
    due: str
    students: tuple[RosterStudent, ...]


@dataclass(frozen=True)
class Vocab:
    """What a sheet may write as a fraud type or behaviour: label (or code) → code."""

    fraud_types: Mapping[str, str]
    behaviours: Mapping[str, str]
    fraud_labels: tuple[str, ...] = ()
    behaviour_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """One checked line of a sheet."""

    line: int
    student_id: int
    student_no: str
    status: str
    category: str | None = None
    fraud_type: str | None = None
    behaviour: str | None = None
    note: str | None = None
    reason: str | None = None
    followup_on: date | None = None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an upload: where (row, column) and why."""

    row: int | None
    column: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """Return the reason in the user's language (Chinese outside a request)."""
        text = SHEET_MESSAGES[self.code]
        if has_request_context():
            return gettext(text, **self.params)
        if has_app_context():  # the CLI, the worker: the school's language
            with force_locale("zh_CN"):
                return gettext(text, **self.params)
        return text % self.params if self.params else text

    def as_dict(self) -> dict[str, Any]:
        """Return the problem as plain values (for JSON answers and the audit trail)."""
        return {"row": self.row, "column": self.column, "code": self.code,
                "message": self.message}

    def __str__(self) -> str:
        return f"{f'row {self.row}' if self.row else 'sheet'}, {self.column}: {self.message}"


class SheetRejected(ValidationFailed):
    """An upload with bad rows: nothing was created; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__({"rows": [p.as_dict() for p in problems]},
                         f"the sheet was refused and nothing was created ({len(problems)} "
                         "problems): " + "; ".join(str(p) for p in problems[:5]))


def _refuse(code: str, **params: Any) -> SheetRejected:
    return SheetRejected([Problem(None, FILE, code, params)])


# -- reading -------------------------------------------------------------------------------

Lines = list[tuple[int, list[Any]]]  # (row number in the sheet, cells)


def read(data: bytes, max_bytes: int, roster: Roster | None = None) -> tuple[str, Lines]:
    """Type-check and read an upload; return its kind (xlsx / csv) and its lines."""
    if not data:
        raise _refuse("empty_file")
    if len(data) > max_bytes:
        raise _refuse("too_large", max=max_bytes // 1024)
    if data.startswith(XLS_MAGIC):
        raise _refuse("xls_file")
    if data.startswith(XLSX_MAGIC):
        return "xlsx", _read_xlsx(data, roster)
    if b"\x00" in data:
        raise _refuse("not_a_sheet")
    try:
        return "csv", list(enumerate(csv.reader(io.StringIO(_decode(data), newline="")), 1))
    except csv.Error as exc:
        raise _refuse("bad_csv", error=str(exc)) from exc


def _read_xlsx(data: bytes, roster: Roster | None) -> Lines:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                raise zipfile.BadZipFile("no workbook in the archive")
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True,
                             keep_links=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _refuse("not_a_sheet") from exc
    try:
        _check_meant_for(book.properties.keywords or "", roster)
        rows = book.worksheets[0].iter_rows(values_only=True, max_col=len(COLUMNS) + 4)
        return [(n, list(cells)) for n, cells in enumerate(rows, 1)]
    finally:
        book.close()


def marks(keywords: str) -> dict[str, str]:
    """Return the round and class a template's keywords name."""
    return dict(re.findall(r"(round|class)=([^;]+)", keywords))


def _check_meant_for(keywords: str, roster: Roster | None) -> None:
    found = marks(keywords)
    if roster is None or "class" not in found:
        return
    if (found["class"], found.get("round")) != (roster.class_code, roster.round_no):
        raise _refuse("wrong_sheet", klass=found["class"], round=found.get("round", "?"),
                      want=roster.class_code, want_round=roster.round_no)


def _decode(data: bytes) -> str:
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise _refuse("bad_encoding") from exc


# -- checking ------------------------------------------------------------------------------

@dataclass
class _Check:
    roster: Roster
    vocab: Vocab
    today: date
    elsewhere: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)

    def bad(self, row: int | None, column: str, code: str, **params: Any) -> None:
        self.problems.append(Problem(row, column, code, params))


def student_numbers(lines: Lines) -> list[str]:
    """Return the student numbers written below the header."""
    return [n for _, cells in lines[1:] if (n := _text(_cell(cells, 0)))]


def check(lines: Lines, roster: Roster, vocab: Vocab, today: date,
          elsewhere: Mapping[str, str]) -> list[Row]:
    """Check every line against the roster; return the rows or raise SheetRejected.

    `elsewhere` maps student numbers not on the roster to their class code, so that a
    student of another class is told apart from an unknown number.
    """
    state = _Check(roster, vocab, today, elsewhere)
    if not _header_ok(state, lines[0] if lines else (1, [])):
        raise SheetRejected(state.problems)
    by_no = {s.student_no: s for s in roster.students}
    rows = [row for line, cells in lines[1:] if any(_text(c) for c in cells)
            if (row := _check_line(state, line, cells, by_no)) is not None]
    for student in roster.students:
        if student.student_no not in state.seen:
            state.bad(None, "学号", "missing_student", value=student.student_no,
                      name=student.name)
    if state.problems:
        order = {c: i for i, c in enumerate(COLUMNS)}
        raise SheetRejected(sorted(state.problems,
                                   key=lambda p: (p.row or 10**9, order.get(p.column, 0))))
    return rows


def _header_ok(state: _Check, header: tuple[int, list[Any]]) -> bool:
    line, cells = header
    found = [(_text(c) or "").lstrip("\ufeff") for c in cells]
    while found and not found[-1]:
        found.pop()
    if tuple(found) == COLUMNS:
        return True
    state.bad(line, "学号", "bad_header", expected=", ".join(COLUMNS), found=", ".join(found))
    return False


def _cell(cells: list[Any], index: int) -> Any:
    return cells[index] if index < len(cells) else None


def _text(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = "" if value is None else str(value).strip()
    return text or None


def _check_line(state: _Check, line: int, cells: list[Any], by_no: dict[str, RosterStudent]
                ) -> Row | None:
    values = {col: _text(_cell(cells, i)) for i, col in enumerate(COLUMNS)}
    before = len(state.problems)
    student = _student(state, line, values, by_no)
    for col, limit in LIMITS.items():
        if values[col] and len(values[col]) > limit:
            state.bad(line, col, "too_long", max=limit)
    status = _status(state, line, values["状态"])
    extra = _by_status(state, line, values, status, _cell(cells, COLUMNS.index("跟进日期")))
    if student is not None and student.key_group and not values["说明"]:
        state.bad(line, "说明", "no_note_key_group")
    if len(state.problems) > before or student is None or status is None:
        return None
    return Row(line, student.student_id, student.student_no, status, note=values["说明"],
               **extra)


def _student(state: _Check, line: int, values: dict[str, str | None],
             by_no: dict[str, RosterStudent]) -> RosterStudent | None:
    number = values["学号"]
    if not number:
        state.bad(line, "学号", "no_student_no")
        return None
    if number in state.seen:
        state.bad(line, "学号", "duplicate_row", value=number, first=state.seen[number])
        return None
    state.seen[number] = line
    student = by_no.get(number)
    if student is None:
        klass = state.elsewhere.get(number)
        if klass is None:
            state.bad(line, "学号", "unknown_student", value=number)
        elif klass == state.roster.class_code:
            state.bad(line, "学号", "not_in_scope", value=number)
        else:
            state.bad(line, "学号", "not_in_class", value=number, klass=klass)
        return None
    if values["姓名"] and values["姓名"] != student.name:
        state.bad(line, "姓名", "name_mismatch", value=number, expected=student.name)
    return student


def _status(state: _Check, line: int, label: str | None) -> str | None:
    if not label:
        state.bad(line, "状态", "no_status")
        return None
    status = STATUS_BY_LABEL.get(label) or _code(label, STATUS_BY_LABEL.values())
    if status is None:
        state.bad(line, "状态", "bad_status", value=label)
    return status


def _code(label: str, codes: Iterable[str]) -> str | None:
    key = label.strip().lower().replace(" ", "_")
    return key if key in set(codes) else None


def _by_status(state: _Check, line: int, values: dict[str, str | None], status: str | None,
               raw_date: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if status == "flagged":
        out.update(_flagged(state, line, values))
    if status == "not_reached":
        out.update(_not_reached(state, line, values["未联系原因"], raw_date))
    for col, only in (("类别", "flagged"), ("诈骗类型", "flagged"),
                      ("未联系原因", "not_reached"), ("跟进日期", "not_reached")):
        if values[col] and status not in (None, only):
            state.bad(line, col, f"only_{only}")
    return out


def _flagged(state: _Check, line: int, values: dict[str, str | None]) -> dict[str, Any]:
    label, kind, vocab = values["类别"], values["诈骗类型"], state.vocab
    if not values["说明"]:
        state.bad(line, "说明", "no_note")
    category = CATEGORY_BY_LABEL.get(label or "") or _code(label or "",
                                                            CATEGORY_BY_LABEL.values())
    if category is None:
        state.bad(line, "类别", "bad_category" if label else "no_category", value=label)
        return {}
    fraud_type = vocab.fraud_types.get(kind or "")
    if category == "involved":
        if kind and fraud_type is None and kind not in vocab.behaviours:
            state.bad(line, "诈骗类型", "bad_fraud_type", value=kind)
        return {"category": category, "fraud_type": fraud_type,
                "behaviour": vocab.behaviours.get(kind or "") or "other"}
    if fraud_type is None:
        state.bad(line, "诈骗类型", "bad_fraud_type" if kind else "no_fraud_type", value=kind)
    return {"category": category, "fraud_type": fraud_type}


def _not_reached(state: _Check, line: int, reason: str | None, raw: Any) -> dict[str, Any]:
    if not reason:
        state.bad(line, "未联系原因", "no_reason")
    day = _date(raw)
    if raw in (None, ""):
        state.bad(line, "跟进日期", "no_followup_date")
    elif day is None:
        state.bad(line, "跟进日期", "bad_date")
    elif day < state.today:
        state.bad(line, "跟进日期", "past_date", value=day.isoformat())
    return {"reason": reason, "followup_on": day}


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and 1 < value < 200000:  # an Excel serial day
        return _EXCEL_EPOCH + timedelta(days=int(value))
    match = _DATE.fullmatch(str(value or "").strip())
    try:
        return date(*(int(g) for g in match.groups() if g)) if match else None
    except ValueError:
        return None


def digest(rows: Iterable[Row]) -> str:
    """Return a digest of what a sheet says (not of its bytes): the same sheet, the same."""
    items = sorted([r.student_no, r.status, r.category, r.fraud_type, r.behaviour, r.note,
                    r.reason, r.followup_on.isoformat() if r.followup_on else None]
                   for r in rows)
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
