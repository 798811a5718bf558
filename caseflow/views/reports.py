"""Reports: the dashboard, the cases behind each figure, the two-weekly brief (page and
PDF, issued versions kept unchanged) and the exports (Excel, audit CSV)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from caseflow import access, charts, clock
from caseflow.services import NotFound, ServiceError, brief, casefile, exports, periods
from caseflow.services import caselist as caselist_service
from caseflow.services import dashboard as board_service
from caseflow.services import reports as report_service
from caseflow.services.periods import Period
from caseflow.views import actor, date_arg, int_arg, lang, page_arg, page_size, pages, text_arg
from caseflow.views import timeline as timeline_view

bp = Blueprint("reports", __name__)
# Every reports route is listed in access.ROUTES and checks its viewer itself (may_view,
# brief.may_see, auditors, the case through casefile.open_case).
CHOSEN_KINDS = ("two_weeks", "week", "half_month", "month", "term", "academic_year", "custom")
ZH = {"category": exports.CATEGORY_ZH, "state": exports.STATE_ZH}
ROLES_ZH = {"counselor": "辅导员", "college_officer": "学院学工办", "psych_center": "心理健康中心",
            "security_office": "保卫处", "student_affairs": "学生处", "leader": "领导小组",
            "lead_office": "牵头部门"}
AUDITORS = ("student_affairs", "leader", "lead_office")


def board_charts(board: board_service.Dashboard, language: str) -> dict[str, Any]:
    """Draw the dashboard's charts: cases per college, by fraud type, per month."""
    from caseflow.views.present import lookups

    names = dict(lookups(language).get("fraud_type", []))
    lines = board.cases.lines()
    types = sorted(board.cases.by_fraud_type.items())
    return {
        "college": charts.bars([(x.name, x.cases) for x in lines], chart_id="ch-college",
                               title=_("Cases (发案) per college")),
        "types": charts.bars([(names.get(code, code), v[0]) for code, v in types],
                             chart_id="ch-type", title=_("Victim cases by fraud type")),
        "trend": charts.trend([(m.label, m.victim + m.involved) for m in board.trend],
                              chart_id="ch-trend", title=_("Cases (发案) per month")),
    }


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"cny": cny, "span": span, "span_zh": span_zh, "pct": pct, "charts": charts, "zh": ZH,
            "may_audit": bool(access.roles(current_user) & set(AUDITORS))
            if current_user.is_authenticated else False}


def cny(value: Any) -> str:
    """Format CNY with two decimals: ¥8,000.00."""
    return f"¥{Decimal(str(value or 0)):,.2f}"


def span(seconds: float | None) -> str:
    """Show a duration in minutes, hours or days ('—' for none)."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(n)s min", n=f"{seconds / 60:.1f}")
    if seconds < 2 * 86400:
        return _("%(n)s h", n=f"{seconds / 3600:.1f}")
    return _("%(n)s d", n=f"{seconds / 86400:.1f}")


def span_zh(seconds: float | None) -> str:
    """Show a duration in Chinese (分钟 / 小时 / 天)."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.1f} 分钟"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"


def pct(share: float | None) -> str:
    """Show a share as a percentage ('—' when there is nothing to divide)."""
    return "—" if share is None else f"{share * 100:.1f}%"


def _viewer() -> None:
    if not report_service.may_view(current_user):
        abort(403)


def _period() -> Period:
    """Read the period from ?p=<key>, or from ?kind=&day= / ?kind=custom&from=&to=."""
    if request.args.get("p"):
        return periods.parse(request.args["p"])
    kind = text_arg("kind", CHOSEN_KINDS) or "two_weeks"
    if kind == "custom":
        first, last = date_arg("from"), date_arg("to")
        if first and last:
            return periods.custom(first, last)
        kind = "two_weeks"
    return periods.of_kind(kind, date_arg("day") or periods.local_day())


def _scope() -> report_service.Scope:
    college = int_arg("college")
    if not report_service.sees_school(current_user):
        college = current_user.college_id if "college_officer" in access.roles(
            current_user) else None
    return report_service.Scope(current_user, college)


def _drill() -> board_service.Drill:
    return board_service.Drill(
        flag=text_arg("flag", board_service.FLAGS), college_id=int_arg("col"),
        category=text_arg("cat", (*report_service.CATEGORIES, "counted")),
        fraud_type=text_arg("ftype", limit=50), behaviour=text_arg("beh", limit=50),
        state=text_arg("state", ("open", "closed", "withdrawn")), step=text_arg("step"))


def _case_query() -> caselist_service.CaseQuery:
    """Read the case list's filter exactly as the case list does."""
    return caselist_service.CaseQuery(
        q=request.args.get("q", "")[:100], college_id=int_arg("college"),
        class_id=int_arg("class"), category=text_arg("category", report_service.CATEGORIES),
        risk=text_arg("risk", ("red", "orange", "yellow")),
        state=text_arg("state", ("open", "closed", "withdrawn")),
        date_from=date_arg("from"), date_to=date_arg("to"))


def _xlsx(data: bytes, name: str) -> Response:
    return Response(data, mimetype=exports.XLSX, headers={
        "Content-Disposition": f"attachment; filename={name}"})


@bp.route("/reports")
@login_required
def dashboard() -> str:
    """Show the dashboard of a period and scope."""
    _viewer()
    p, scope = _period(), _scope()
    board = board_service.build(scope, p)
    colleges, _classes = caselist_service.places(current_user)
    return render_template("reports/dashboard.html", b=board, p=p, scope=scope,
                           ch=board_charts(board, lang()),
                           colleges=colleges, kinds=CHOSEN_KINDS,
                           school=report_service.sees_school(current_user),
                           prev=periods.previous(p), next=periods.following(p))


@bp.route("/reports/cases")
@login_required
def figure_cases() -> str:
    """List the cases behind one dashboard figure (same scope and access rules)."""
    _viewer()
    p, scope, d = _period(), _scope(), _drill()
    conds = board_service.drill_conditions(scope, p, d)
    size, page = page_size(), page_arg()
    total = exports.count_where(conds)
    return render_template("reports/cases.html", rows=exports.cases_where(
        conds, size, (page - 1) * size), total=total, page=page, pages=pages(total), p=p,
        d=d, scope=scope, args=request.args.to_dict(), export_max=exports.MAX_ROWS)


@bp.route("/reports/cases.xlsx")
@login_required
def figure_cases_xlsx() -> Response:
    """Export the cases behind one figure as Excel (audited with the figure's filter)."""
    _viewer()
    p, scope, d = _period(), _scope(), _drill()
    conds = board_service.drill_conditions(scope, p, d)
    try:
        exports.check_size(exports.count_where(conds))
    except exports.TooMany as error:
        return _too_many(error, "reports.figure_cases")
    found = exports.cases_where(conds)
    purpose = (request.args.get("purpose") or "").strip()[:200] or None
    sheet, revealed = exports.cases_sheet(current_user, found, f"{p.label()}", purpose)
    filters = {"period": p.key, "college": scope.college_id, **{
        k: v for k, v in vars(d).items() if v is not None}}
    exports.record(actor(), "figure_cases", filters, len(found), revealed=revealed,
                   purpose=purpose)
    return _xlsx(exports.workbook([sheet]), "cases.xlsx")


@bp.route("/reports/export/cases.xlsx")
@login_required
def case_list_xlsx() -> Response:
    """Export the case list with the list's own filter (?q=&college=&category=…)."""
    if not access.may_list_cases(current_user):
        abort(403)
    f = _case_query()
    try:
        found = exports.case_list(current_user, f)
    except exports.TooMany as error:
        return _too_many(error, "cases.case_list")
    purpose = (request.args.get("purpose") or "").strip()[:200] or None
    sheet, revealed = exports.cases_sheet(current_user, found, "案件列表", purpose)
    filters = {k: v for k, v in vars(f).items() if v not in (None, "") and k != "page"}
    exports.record(actor(), "case_list", filters, len(found), revealed=revealed,
                   purpose=purpose)
    return _xlsx(exports.workbook([sheet]), "case-list.xlsx")


def _too_many(error: exports.TooMany, back_to: str) -> Response:
    """Send the person back to the list they exported, saying how to narrow it."""
    flash(_("This export has %(found)s cases, more than the %(most)s one export can hold: "
            "narrow it by college, category or period and export it in parts.",
            found=f"{error.found:,}", most=f"{exports.MAX_ROWS:,}"))
    args = {k: v for k, v in request.args.items() if k != "purpose"}
    return redirect(url_for(back_to, **args), 303)


@bp.route("/reports/dashboard.xlsx")
@login_required
def dashboard_xlsx() -> Response:
    """Export the dashboard's tables as Excel, one sheet per table."""
    _viewer()
    p, scope = _period(), _scope()
    sheets = exports.dashboard_sheets(board_service.build(scope, p))
    exports.record(actor(), "dashboard", {"period": p.key, "college": scope.college_id},
                   sum(len(s.rows) for s in sheets))
    return _xlsx(exports.workbook(sheets), "dashboard.xlsx")


@bp.route("/reports/cases/<int:case_id>/history.xlsx")
@login_required
def history_xlsx(case_id: int) -> Response:
    """Export a case's whole history as Excel (never confidential notes)."""
    try:
        case = casefile.open_case(case_id, current_user, actor(), via="export")
    except NotFound:
        abort(404)
    file = casefile.gather(case)  # no user: confidential notes are not even loaded
    entries = timeline_view.entries(file, lang(), False)
    sheet = exports.history_sheet(case.number, entries)
    exports.record(actor(), "case_history", {"case": case.number}, len(sheet.rows),
                   case_id=case.id)
    return _xlsx(exports.workbook([sheet]), f"{case.number}-history.xlsx")


def _auditor() -> None:
    if not access.roles(current_user) & set(AUDITORS):
        abort(403)


def _csv(text: str, name: str) -> Response:
    return Response("\ufeff" + text, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={name}"})


@bp.route("/reports/cases/<int:case_id>/audit.csv")
@login_required
def case_audit_csv(case_id: int) -> Response:
    """Export one case's audit trail as CSV with the hash-chain columns."""
    _auditor()
    try:
        case = casefile.open_case(case_id, current_user, actor(), via="export")
    except NotFound:
        abort(404)
    events = exports.case_events(case.id)
    exports.record(actor(), "audit_csv", {"case": case.number}, len(events), case_id=case.id)
    return _csv(exports.audit_csv(events), f"{case.number}-audit.csv")


@bp.route("/reports/audit.csv")
@login_required
def period_audit_csv() -> Response:
    """Export the audit trail of a period as CSV with the hash-chain columns."""
    _auditor()
    p = _period()
    events = exports.period_events(p)
    exports.record(actor(), "audit_csv", {"period": p.key}, len(events))
    return _csv(exports.audit_csv(events), f"audit-{p.first_day}-{p.last_day}.csv")


# -- the brief -------------------------------------------------------------------------


def _brief(college_id: int) -> brief.Brief:
    _viewer()
    try:
        return brief.gather(current_user, college_id, _period())
    except NotFound:
        abort(404)


def _body(b: brief.Brief, text: str, issued_at: Any = None) -> str:
    types, behaviours = exports.labels_zh("fraud_type"), exports.labels_zh("behaviour")
    trend = [(m.label, m.victim + m.involved) for m in b.board.trend]
    chart_set = {
        "types": charts.bars([(types.get(c, c), v[0]) for c, v in
                              sorted(b.board.cases.by_fraud_type.items())],
                             chart_id="br-type", title="受骗案件按诈骗类型", width=420),
        "trend": charts.trend(trend, chart_id="br-trend", title="近十二个月发案", width=420)}
    with force_locale("zh_CN"):
        return render_template("reports/_brief_body.html", br=b, text=text, bch=chart_set,
                               issued_at=issued_at, zh_types=types, zh_behaviours=behaviours,
                               zh_roles=ROLES_ZH)


def _document(body: str) -> str:
    with force_locale("zh_CN"):
        return render_template("reports/brief_print.html", body=body)


def _css() -> str:
    return render_template("reports/reports.css")


def _pdf_css() -> str:
    return render_template("reports/brief.css")


@bp.route("/reports/brief/<int:college_id>", methods=["GET", "POST"])
@login_required
def brief_page(college_id: int) -> str | Response | tuple[str, int]:
    """Show a college's brief for a period; its officer previews and issues it."""
    b = _brief(college_id)
    text = request.form.get("text", b.issued[0].text if b.issued else "")[:brief.MAX_TEXT]
    if request.method == "POST" and request.form.get("action") == "issue":
        body = _body(b, text, clock.now())
        try:
            row = brief.issue(b, text, body, brief.render_pdf(_document(body), _pdf_css()),
                              current_user, actor())
        except ServiceError as exc:
            if exc.status == 403:
                abort(403)
            flash(_("The brief was not issued: %(why)s", why=str(exc)))
        else:
            flash(_("Brief issued (version %(n)s).", n=row.version))
            return redirect(url_for("reports.issued", brief_id=row.id))
    return render_template("reports/brief.html", b=b, body=_body(b, text), text=text,
                           may_issue=brief.may_issue(current_user, college_id))


@bp.route("/reports/brief/<int:college_id>.pdf")
@login_required
def brief_pdf(college_id: int) -> Response:
    """Download the brief as it stands now (a draft, not issued) as PDF."""
    b = _brief(college_id)
    pdf = brief.render_pdf(_document(_body(b, "")), _pdf_css())
    exports.record(actor(), "brief_draft_pdf", {"college": college_id, "period": b.period.key},
                   1)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=brief-{college_id}-{b.period.first_day}.pdf"})


@bp.route("/reports/briefs/<int:brief_id>")
@login_required
def issued(brief_id: int) -> str:
    """Show an issued brief exactly as it was issued."""
    _viewer()
    try:
        row = brief.get_issued(brief_id, current_user)
    except NotFound:
        abort(404)
    return render_template("reports/issued.html", row=row, p=periods.parse(row.period_key))


@bp.route("/reports/briefs/<int:brief_id>.pdf")
@login_required
def issued_pdf(brief_id: int) -> Response:
    """Download the PDF of an issued brief, byte for byte as issued."""
    _viewer()
    try:
        row = brief.get_issued(brief_id, current_user)
    except NotFound:
        abort(404)
    exports.record(actor(), "brief_pdf", {"brief": row.id, "college": row.college_id,
                                          "period": row.period_key}, 1)
    return Response(row.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=brief-{row.college_id}-v{row.version}.pdf"})


@bp.route("/reports/reports.css")
def stylesheet() -> Response:
    """Serve the reports' stylesheet (dashboard, charts, brief on screen and in print)."""
    return Response(_css(), mimetype="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})

