"""Exports: Excel workbooks (case lists, dashboard tables, a case's history) with Chinese
headers, and the audit trail as CSV with its hash-chain columns. Every export is audited
(`export_made`) with the filter that produced it.

Identifiers are masked unless the exporter may reveal that field of that case (when
`access.may_reveal` exists) and gave a purpose; confidential notes never enter an export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import ColumnElement, func, select

from caseflow import access, audit, masking, timefmt
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import AuditEvent, Case, College, Klass, Lookup, Student, User
from caseflow.services import ServiceError, caselist
from caseflow.services.audit_export import COLUMNS as AUDIT_COLUMNS
from caseflow.services.periods import Period

CATEGORY_ZH = {"victim": "受骗", "involved": "参诈涉诈", "at_risk": "涉诈隐患"}
STATE_ZH = {"open": "处置中", "closed": "已结案", "withdrawn": "已撤销"}
RISK_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色"}
CASE_HEADERS = ("案件编号", "学生姓名", "学号", "学院", "班级", "类别", "诈骗类型", "涉诈行为",
                "风险等级", "状态", "损失金额（元）", "追回金额（元）", "案发时间", "登记时间",
                "结案时间", "已撤销", "已降级", "学生手机号", "学生身份证号")
HISTORY_HEADERS = ("序号", "时间", "操作人", "角色", "事件", "步骤", "结果", "内容")
SENSITIVE = (("phone", masking.phone), ("id_card", masking.id_card))
# one export's cases: 20,000 take about 7 s to write on the 2-core machine; 100,000 took
# 36 s, past the 30 s after which gunicorn kills the request
MAX_ROWS = 20_000


class TooMany(ServiceError):
    """An export larger than one request can write in time; narrow its filter."""

    status = 413
    code = "too_many_rows"

    def __init__(self, found: int) -> None:
        super().__init__(f"this export has {found} cases, more than the {MAX_ROWS} one "
                         "export holds: narrow it by college, category or period")
        self.found = found


def check_size(found: int) -> None:
    """Refuse an export of more cases than one request can write in time."""
    if found > MAX_ROWS:
        raise TooMany(found)
PAGE = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Sheet:
    """One worksheet: a title, Chinese headers and rows of plain values."""

    title: str
    headers: Sequence[str]
    rows: list[list[Any]]


def workbook(sheets: Iterable[Sheet]) -> bytes:
    """Write sheets into an .xlsx file and return its bytes."""
    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(title=_sheet_title(sheet.title))
        bold = []
        for text in sheet.headers:
            cell = WriteOnlyCell(ws, value=text)
            cell.font = Font(bold=True)
            bold.append(cell)
        ws.append(bold)
        for row in sheet.rows:
            ws.append([_cell(ws, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(text: str) -> str:
    clean = "".join("_" if ch in '[]:*?/\\' else ch for ch in text)
    return clean[:31] or "Sheet"


def _cell(ws: Any, value: Any) -> Any:
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "#,##0.00"
        return cell
    if isinstance(value, datetime):
        return timefmt.short(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # typed text is never a formula (no CSV/Excel injection)
        return cell
    return value


# -- case lists --------------------------------------------------------------------------


def reveal_fields(user: User, case: Case, purpose: str | None) -> set[str]:
    """Return the sensitive fields of `case` this export may show unmasked."""
    may_reveal = getattr(access, "may_reveal", None)
    if not purpose or may_reveal is None:
        return set()
    return {name for name, _mask in SENSITIVE if may_reveal(user, name, case)}


def labels_zh(kind: str) -> dict[str, str]:
    """Return the Chinese labels of an editable list (code → label)."""
    return dict(db.session.execute(select(Lookup.code, Lookup.label_zh)
                                   .where(Lookup.kind == kind)).all())


def case_rows(user: User, rows: Iterable[tuple[Case, Student, str, str]],
              purpose: str | None = None) -> tuple[list[list[Any]], set[str]]:
    """Return export rows of (case, student, college, class); and the fields revealed."""
    types, behaviours = labels_zh("fraud_type"), labels_zh("behaviour")
    out, revealed = [], set()
    for case, student, college, klass in rows:
        shown = reveal_fields(user, case, purpose)
        revealed |= shown
        numbers = [getattr(student, name) if name in shown else mask(getattr(student, name))
                   for name, mask in SENSITIVE]
        out.append([
            case.number, student.name, student.student_no, college, klass,
            CATEGORY_ZH.get(case.category, case.category),
            types.get(case.fraud_type or "", case.fraud_type or ""),
            behaviours.get(case.behaviour or "", case.behaviour or ""),
            RISK_ZH.get(case.risk_level or "", ""), STATE_ZH.get(case.state, case.state),
            case.loss_cny, case.recovered_cny, case.happened_at, case.registered_at,
            case.closed_at, case.withdrawn, case.downgraded, *numbers])
    return out, revealed


def _joined(conds: Sequence[ColumnElement[bool]]) -> Any:
    return (select(Case, Student, College.name, Klass.name)
            .join(Student, Student.id == Case.student_id)
            .join(College, College.id == Case.college_id)
            .join(Klass, Klass.id == Case.class_id).where(*conds)
            .order_by(Case.registered_at.desc(), Case.id.desc()))


def cases_where(conds: Sequence[ColumnElement[bool]], limit: int | None = None,
                offset: int = 0) -> list[tuple[Case, Student, str, str]]:
    """Load the cases matching `conds` (already scoped) with student, college and class."""
    query = _joined(conds).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [tuple(r) for r in db.session.execute(query).all()]  # type: ignore[misc]


def count_where(conds: Sequence[ColumnElement[bool]]) -> int:
    """Count the cases matching `conds`."""
    return int(db.session.scalar(select(func.count(Case.id)).where(*conds)) or 0)


def case_list(user: User, f: caselist.CaseQuery) -> list[tuple[Case, Student, str, str]]:
    """Load every case of a case-list filter, page by page, exactly as the list finds them;
    refuse (TooMany) a list longer than one export holds, before loading it."""
    out: list[tuple[Case, Student, str, str]] = []
    page = 1
    while True:
        f.page = page
        rows, total = caselist.search(user, f, PAGE)
        if page == 1:
            check_size(total)
        students = {s.id: s for s in db.session.scalars(select(Student).where(
            Student.id.in_([r.case.student_id for r in rows])))}
        out += [(r.case, students[r.case.student_id], r.college, r.klass) for r in rows]
        if not rows or len(out) >= total:
            return out
        page += 1


def cases_sheet(user: User, found: list[tuple[Case, Student, str, str]], title: str,
                purpose: str | None = None) -> tuple[Sheet, set[str]]:
    """Return the sheet of a case list, and the fields it shows unmasked."""
    rows, revealed = case_rows(user, found, purpose)
    return Sheet(title, CASE_HEADERS, rows), revealed


def history_sheet(number: str, entries: Iterable[Any]) -> Sheet:
    """Return a case's history (timeline entries, as its viewer sees them) as a sheet."""
    rows = [[e.seq, e.at, e.actor, e.role, e.title, e.step or "", e.result,
             "；".join(f"{i.label}：{i.text}" for i in e.items)] for e in entries]
    return Sheet(f"{number} 处置经过", HISTORY_HEADERS, rows)


def _mins(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def dashboard_sheets(board: Any) -> list[Sheet]:
    """Return the dashboard's tables as sheets (Chinese headers; times in minutes)."""
    types, behaviours = labels_zh("fraud_type"), labels_zh("behaviour")
    lines = [*board.cases.lines(), board.cases.total]
    colleges = Sheet("各学院发案", ("学院", "发案", "受骗案件", "受骗人数", "参诈涉诈案件",
                                "参诈涉诈人数", "涉诈隐患", "处置中", "已结案", "撤销", "降级",
                                "损失金额（元）", "追回金额（元）", "补报", "零发案"),
                     [[x.name or "合计", x.cases, x.victim_cases, x.victim_persons,
                       x.involved_cases, x.involved_persons, x.at_risk, x.open, x.closed,
                       x.withdrawn, x.downgraded, x.loss, x.recovered, x.late, x.zero]
                      for x in lines])
    kinds = Sheet("诈骗类型", ("诈骗类型", "受骗案件", "涉诈隐患案件"),
                  [[types.get(k, k), v[0], v[1]] for k, v in
                   sorted(board.cases.by_fraud_type.items())]
                  + [[f"参诈涉诈：{behaviours.get(k, k)}", n, ""] for k, n in
                     sorted(board.cases.by_behaviour.items())])
    trend = Sheet("月度趋势", ("月份", "受骗", "参诈涉诈", "涉诈隐患", "损失金额（元）"),
                  [[m.label, m.victim, m.involved, m.at_risk, m.loss] for m in board.trend])
    lag = Sheet("登记时长", ("学院", "案件", "中位（分钟）", "最长（分钟）", "补报"),
                [[x.name, x.cases, _mins(x.median_s), _mins(x.worst_s), x.late]
                 for x in board.lag])
    overdue = Sheet("逾期任务", ("步骤", "学院", "逾期任务数"),
                    [[name, "", n] for _spec, name, n in board.overdue.by_step]
                    + [["", name, n] for _cid, name, n in board.overdue.by_college])
    sp = board.stop_payment
    work = Sheet("响应与劝阻", ("项目", "数值"), [
        ["紧急止付次数", sp.count], ["紧急止付未完成", sp.waiting],
        ["紧急止付响应中位（分钟）", _mins(sp.median_s)],
        ["紧急止付响应最长（分钟）", _mins(sp.worst_s)],
        ["心理转介接收", board.psych["accepted"]], ["心理转介拒绝", board.psych["declined"]],
        *[[f"预警（{w.name or '全部'}）：预警/见面/劝阻/{board.reach_minutes}分钟内",
           f"{w.warnings}/{w.reached}/{w.dissuaded}/{w.within}"] for w in board.warnings]])
    screening = Sheet("隐患摸排", ("轮次", "学院", "班级", "应完成", "完成时间"),
                      [[c.round_number, c.college, c.class_name, c.due_at, c.done_at or "未完成"]
                       for c in board.late_classes]
                      + [["未联系学生", college, klass, n, ""]
                         for college, klass, n in board.unreached])
    free = Sheet("无诈班级候选", ("学院", "班级"),
                 [[college, klass] for _kid, klass, college in board.fraud_free])
    return [colleges, kinds, trend, lag, overdue, work, screening, free]


# -- the audit trail as CSV ---------------------------------------------------------------


def audit_csv(events: Iterable[Any]) -> str:
    """Write audit events as CSV with the fields audit.row_hash covers and the chain columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AUDIT_COLUMNS)
    for ev in events:
        writer.writerow([ev.seq, ev.at.isoformat(), ev.actor_id or "", ev.actor,
                         ev.actor_role or "", ev.ip or "", ev.user_agent or "",
                         ev.case_id or "", ev.task_id or "", ev.event_type, ev.result,
                         ev.detail, ev.prev_hash, ev.hash])
    return out.getvalue()


def case_events(case_id: int) -> list[Any]:
    """Return a case's audit events in chain order."""
    return list(db.session.execute(select(AuditEvent.__table__).where(
        AuditEvent.case_id == case_id).order_by(AuditEvent.seq)).all())


def period_events(p: Period) -> list[Any]:
    """Return the audit events written in a period, in chain order."""
    return list(db.session.execute(select(AuditEvent.__table__).where(
        AuditEvent.at >= p.start, AuditEvent.at < p.end).order_by(AuditEvent.seq)).all())


def record(actor: Actor, kind: str, filters: dict[str, Any], rows: int,
           case_id: int | None = None, revealed: set[str] | None = None,
           purpose: str | None = None) -> None:
    """Audit an export with its filter (and any revealed fields with the purpose); commit."""
    detail: dict[str, Any] = {"kind": kind, "filter": filters, "rows": rows}
    if revealed:
        detail.update(revealed=sorted(revealed), purpose=purpose)
    audit.record("export_made", actor, case_id=case_id, detail=detail)
    db.session.commit()
