"""The two-weekly brief (专项简报) of one college and period: its figures, new cases,
late cases, overdue work; issuing it (audited) and keeping the issued version unchanged.

The views render the brief's HTML (in Chinese) and this module turns it into a PDF with
WeasyPrint; an issued brief stores that HTML and those PDF bytes, so later views show
exactly what was issued.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from caseflow import access, audit, clock
from caseflow.audit import Actor
from caseflow.db import db
from caseflow.models import Case, College, IssuedBrief, Klass, School, Student, TaskRow, User
from caseflow.services import Forbidden, NotFound, ValidationFailed, dashboard, reports
from caseflow.services.periods import Period

MAX_TEXT = 5000
MAX_ROWS = 500


def may_see(user: User, college_id: int) -> bool:
    """Say whether `user` may read the briefs of a college."""
    if reports.sees_school(user):
        return True
    return "college_officer" in access.roles(user) and user.college_id == college_id


def may_issue(user: User, college_id: int) -> bool:
    """Say whether `user` may fill in and issue a college's brief: its college officer."""
    return "college_officer" in access.roles(user) and user.college_id == college_id


def mask_name(name: str) -> str:
    """Mask a student's name for a circulated brief: 张三丰 → 张**."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


@dataclass
class BriefCase:
    """A case as the brief lists it: no identifying numbers, the name masked."""

    number: str
    student: str
    klass: str
    category: str
    fraud_type: str | None
    behaviour: str | None
    loss: Decimal
    happened_at: datetime | None
    registered_at: datetime
    state: str


@dataclass
class OverdueTask:
    """An open task past its due time."""

    number: str | None
    step: str
    role: str | None
    due_at: datetime


@dataclass
class Brief:
    """Everything one brief shows."""

    school: str
    college: College
    period: Period
    board: dashboard.Dashboard
    new_cases: list[BriefCase]
    late_cases: list[BriefCase]
    late_since: datetime
    overdue_now: list[OverdueTask]
    issued: list[IssuedBrief] = field(default_factory=list)


def _cases(conds: list[Any]) -> list[BriefCase]:
    rows = db.session.execute(
        select(Case, Student.name, Klass.name).join(Student, Student.id == Case.student_id)
        .join(Klass, Klass.id == Case.class_id).where(*conds)
        .order_by(Case.registered_at, Case.id).limit(MAX_ROWS)).all()
    return [BriefCase(c.number, mask_name(name), klass, c.category, c.fraud_type, c.behaviour,
                      c.loss_cny, c.happened_at, c.registered_at, c.state)
            for c, name, klass in rows]


def last_issued_before(college_id: int, p: Period) -> IssuedBrief | None:
    """Return the latest brief issued for an earlier period of the college."""
    return db.session.scalar(
        select(IssuedBrief).where(IssuedBrief.college_id == college_id,
                                  IssuedBrief.period_start < p.start)
        .order_by(IssuedBrief.issued_at.desc(), IssuedBrief.id.desc()).limit(1))


def issued_versions(college_id: int, p: Period) -> list[IssuedBrief]:
    """Return the issued versions of a college's brief for a period, newest first."""
    return list(db.session.scalars(
        select(IssuedBrief).where(IssuedBrief.college_id == college_id,
                                  IssuedBrief.period_key == p.key)
        .order_by(IssuedBrief.version.desc())))


def school_name() -> str:
    """Return the school's name, as every page header shows it (the setting, else the row)."""
    from flask import current_app

    name = current_app.config.get("SCHOOL_NAME")
    return str(name or db.session.scalar(select(School.name).order_by(School.id).limit(1)) or "")


def gather(user: User, college_id: int, p: Period, at: datetime | None = None) -> Brief:
    """Collect a college's brief for period p as `user` may see it."""
    college = db.session.get(College, college_id)
    if college is None or not may_see(user, college_id):
        raise NotFound(f"no college {college_id}")
    at = at or clock.now()
    scope = reports.Scope(user, college_id)
    board = dashboard.build(scope, p, at)
    previous = last_issued_before(college_id, p)
    since = previous.issued_at if previous is not None else p.start
    late_conds = [*scope.cases(), reports.late(p, since, at)]
    new_conds = [*scope.cases(), reports.in_period(p), Case.withdrawn.is_(False)]
    return Brief(school_name(), college, p, board, _cases(new_conds), _cases(late_conds),
                 since, overdue_tasks(scope, at), issued_versions(college_id, p))


def overdue_tasks(scope: reports.Scope, at: datetime) -> list[OverdueTask]:
    """List the scope's open tasks past their due time, oldest due first."""
    rows = db.session.execute(
        select(Case.number, TaskRow.name, TaskRow.role, TaskRow.due_at)
        .join(Case, Case.id == TaskRow.case_id)
        .where(TaskRow.state == "ready", TaskRow.due_at < at, *scope.cases())
        .order_by(TaskRow.due_at).limit(MAX_ROWS)).all()
    return [OverdueTask(*row) for row in rows]


def key_figures(b: Brief) -> dict[str, Any]:
    """Return the brief's headline figures as plain JSON values (kept with the issue)."""
    t = b.board.cases.total
    sp = b.board.stop_payment
    return {"period": b.period.key, "college": b.college.name, "cases": t.cases,
            "victim_cases": t.victim_cases, "victim_persons": t.victim_persons,
            "involved_cases": t.involved_cases, "involved_persons": t.involved_persons,
            "at_risk": t.at_risk, "loss": str(t.loss), "recovered": str(t.recovered),
            "open": t.open, "closed": t.closed, "withdrawn": t.withdrawn,
            "downgraded": t.downgraded, "late": [c.number for c in b.late_cases],
            "new": [c.number for c in b.new_cases], "overdue": b.board.overdue.total,
            "stop_payment_median_s": sp.median_s, "stop_payment_worst_s": sp.worst_s}


def render_pdf(html: str, css: str) -> bytes:
    """Render a brief's HTML document to PDF (WeasyPrint, CJK fonts from the system)."""
    from weasyprint import CSS, HTML

    return HTML(string=html).write_pdf(stylesheets=[CSS(string=css)])


def issue(b: Brief, text: str, body_html: str, pdf: bytes, user: User, actor: Actor
          ) -> IssuedBrief:
    """Issue the brief: keep its HTML and PDF unchanged, audit `brief_issued`, commit."""
    if not may_issue(user, b.college.id):
        raise Forbidden("only the college's officer may issue its brief")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ValidationFailed({"text": [f"at most {MAX_TEXT} characters"]})
    version = 1 + (db.session.scalar(select(func.max(IssuedBrief.version)).where(
        IssuedBrief.college_id == b.college.id, IssuedBrief.period_key == b.period.key)) or 0)
    digest = hashlib.sha256(pdf).hexdigest()
    row = IssuedBrief(college_id=b.college.id, period_kind=b.period.kind,
                      period_key=b.period.key, period_start=b.period.start,
                      period_end=b.period.end, version=version, text=text,
                      figures=audit.canonical(key_figures(b)), html=body_html, pdf=pdf,
                      pdf_sha256=digest, issued_at=clock.now(), issued_by=user.id)
    db.session.add(row)
    db.session.flush()
    audit.record("brief_issued", actor, detail={
        "brief_id": row.id, "college_id": b.college.id, "college": b.college.name,
        "period": b.period.key, "version": version, "pdf_sha256": digest,
        "html_sha256": hashlib.sha256(body_html.encode("utf-8")).hexdigest(),
        "cases": [c.number for c in b.new_cases], "late": [c.number for c in b.late_cases]})
    db.session.commit()
    return row


def get_issued(brief_id: int, user: User) -> IssuedBrief:
    """Return an issued brief the user may read, or raise NotFound."""
    row = db.session.get(IssuedBrief, brief_id)
    if row is None or not may_see(user, row.college_id):
        raise NotFound(f"no brief {brief_id}")
    return row


def figures_of(row: IssuedBrief) -> dict[str, Any]:
    """Return the figures kept with an issued brief."""
    return dict(json.loads(row.figures or "{}"))
