"""Every route of caseflow, with the answer each role gets in scope and out of scope.

ADDING A ROUTE? Add its endpoint to `caseflow.access.ROUTES` (or it answers 404) and a
line to ROUTE_TABLE below saying who gets what; `test_routes.py` fails for a route that
is missing here. A rule is a function (who, world) → list of Probe: one request and the
status codes allowed for it. Anonymous visitors are handled by the test itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


@dataclass(frozen=True)
class Who:
    """A person probing a route: a role, in scope of the world's objects or not."""

    key: str
    username: str | None
    role: str | None
    in_scope: bool


WHO = (
    Who("counselor", "counselor1", "counselor", True),
    Who("counselor-out", "counselor2", "counselor", False),
    Who("college_officer", "officer1", "college_officer", True),
    Who("college_officer-out", "officer2", "college_officer", False),
    Who("psych_center", "psych", "psych_center", True),
    Who("psych_center-out", "psych", "psych_center", False),
    Who("security_office", "security", "security_office", True),
    Who("security_office-out", "security", "security_office", False),
    Who("student_affairs", "affairs", "student_affairs", True),  # the lead office by default
    Who("leader", "leader", "leader", True),
    Who("admin", "admin", "admin", False),
    Who("anonymous", None, None, False),
)


@dataclass
class Probe:
    """One request and the answers allowed."""

    method: str
    path: str
    expect: set[int]
    data: dict[str, Any] = field(default_factory=dict)
    public: bool = False


Rule = Callable[[Who, SimpleNamespace], list[Probe]]
WORKERS = {"counselor", "college_officer", "psych_center", "security_office",
           "student_affairs"}


def case_of(who: Who, w: SimpleNamespace) -> Any:
    """Return the case a person probes: A, or B for the roles whose scope B is outside of."""
    return w.b if who.key in ("psych_center-out", "security_office-out") else w.a


def task_of(who: Who, w: SimpleNamespace) -> Any:
    """Return the task a person probes: their own open task, or one outside their scope."""
    own = {"counselor": w.counselor_task, "counselor-out": w.counselor_task,
           "college_officer": w.officer_task, "college_officer-out": w.officer_task,
           "psych_center": w.accept, "security_office": w.security_task,
           "student_affairs": w.affairs_task}
    return own.get(who.key, w.talk_b)


def reads_case(who: Who) -> bool:
    """Say whether a person may open the case they probe."""
    return who.in_scope and who.role != "admin"


def works(who: Who) -> bool:
    """Say whether a person holds the task they probe."""
    return who.in_scope and who.key in WORKERS


def _status(ok: bool, yes: int | set[int] = 200, no: int = 404) -> set[int]:
    chosen = yes if ok else no
    return set(chosen) if isinstance(chosen, set) else {chosen}


def public(path: str) -> Rule:
    return lambda who, w: [Probe("GET", path, {200}, public=True)]


def signed_in(method: str, path: str, ok: int | set[int] = 200) -> Rule:
    return lambda who, w: [Probe(method, path, _status(True, ok))]


def case_page(suffix: str = "") -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        return [Probe("GET", f"/cases/{case_of(who, w).id}{suffix}", _status(reads_case(who)))]
    return rule


def task_page(who: Who, w: SimpleNamespace) -> list[Probe]:
    path = f"/tasks/{task_of(who, w).id}"
    return [Probe("GET", path, _status(works(who))),
            Probe("POST", path, _status(works(who), {200, 422}), {"action": "complete"})]


def task_post(action: str) -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        return [Probe("POST", f"/tasks/{task_of(who, w).id}/{action}", _status(works(who), 302))]
    return rule


def reassign(who: Who, w: SimpleNamespace) -> list[Probe]:
    # Student affairs (the lead office) reassigns anywhere; a college officer in the college.
    ok = who.key in ("student_affairs", "college_officer")
    path = f"/tasks/{w.counselor_task.id}/reassign"
    return [Probe("GET", path, _status(ok)),
            Probe("POST", path, _status(ok, 422), {"reason": ""})]


def case_list(who: Who, w: SimpleNamespace) -> list[Probe]:
    return [Probe("GET", "/cases?q=%25' OR 1=1 --", _status(who.role != "admin", 200, 403))]


def new_case(who: Who, w: SimpleNamespace) -> list[Probe]:
    ok = who.role in ("counselor", "college_officer", "security_office", "student_affairs")
    return [Probe("GET", "/cases/new?q=2024", _status(ok, 200, 403))]


def register(who: Who, w: SimpleNamespace) -> list[Probe]:
    # student1 is in class1 / college1; the security office and student affairs register
    # about anyone.
    ok = who.key in ("counselor", "college_officer", "security_office", "security_office-out",
                     "student_affairs")
    path = f"/cases/new/{w.student1.id}"
    return [Probe("GET", path, _status(ok)), Probe("POST", path, _status(ok, 422))]


def mark_read(who: Who, w: SimpleNamespace) -> list[Probe]:
    own = w.notices[who.username] if who.username else w.notices["counselor1"]
    other = w.notices["counselor1" if who.username != "counselor1" else "counselor2"]
    return [Probe("POST", f"/notifications/{own}/read", {302}),
            Probe("POST", f"/notifications/{other}/read", {404})]


def student_page(who: Who, w: SimpleNamespace) -> list[Probe]:
    student = case_of(who, w).student
    ok = reads_case(who)
    return [Probe("GET", f"/students/{student.id}", _status(ok))]


def admin_only(method: str, path: str, ok: int | set[int] = 200) -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        return [Probe(method, path, _status(who.role == "admin", ok))]
    return rule


PHONE_REVEALERS = {"counselor", "college_officer", "security_office"}


def reveal_case(who: Who, w: SimpleNamespace) -> list[Probe]:
    case = case_of(who, w)
    guardian = case.student.guardians[0]
    base = f"/cases/{case.id}/reveal?field="
    bank = f"task_field&task={w.talk_done.id}&name=bank_account"
    return [
        Probe("GET", base + "phone", _status(who.key in PHONE_REVEALERS)),
        Probe("GET", base + f"guardian_phone&guardian={guardian.id}",
              _status(who.key in PHONE_REVEALERS)),
        Probe("GET", base + "id_card", _status(who.key in ("security_office",
                                                          "student_affairs"))),
        Probe("GET", base + bank, _status(who.key == "security_office")),
        Probe("POST", base + "phone", _status(who.key in PHONE_REVEALERS, 422)),
    ]


def reveal_student(who: Who, w: SimpleNamespace) -> list[Probe]:
    student = case_of(who, w).student
    base = f"/students/{student.id}/reveal?field="
    return [Probe("GET", base + "phone", _status(who.key in ("counselor", "college_officer"))),
            Probe("GET", base + "id_card", _status(who.key in ("security_office",
                                                              "student_affairs")))]


def pending_factor(path: str) -> Rule:
    # Without a password checked a moment ago these send you back to the sign-in page.
    return lambda who, w: [Probe("GET", path, {302}, public=True)]


REPORT_VIEWERS = {"counselor", "college_officer", "student_affairs", "leader"}
AUDITORS = {"student_affairs", "leader"}


def report_page(path: str) -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        return [Probe("GET", path, _status(who.role in REPORT_VIEWERS, 200, 403))]
    return rule


def case_export(suffix: str, auditors_only: bool = False) -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        path = f"/reports/cases/{case_of(who, w).id}/{suffix}"
        if auditors_only and who.role not in AUDITORS:
            return [Probe("GET", path, {403})]
        return [Probe("GET", path, _status(reads_case(who)))]
    return rule


def brief_page(suffix: str = "") -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        path = f"/reports/brief/{w.college1.id}{suffix}"
        if who.role not in REPORT_VIEWERS:
            return [Probe("GET", path, {403})]
        ok = who.role in AUDITORS or who.key == "college_officer"
        return [Probe("GET", path, _status(ok))]
    return rule


def issued(suffix: str = "") -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        return [Probe("GET", f"/reports/briefs/999999{suffix}",
                      {404} if who.role in REPORT_VIEWERS else {403})]
    return rule


def list_export(who: Who, w: SimpleNamespace) -> list[Probe]:
    return [Probe("GET", "/reports/export/cases.xlsx", _status(who.role != "admin", 200, 403))]


def auditors(path: str) -> Rule:
    return lambda who, w: [Probe("GET", path, _status(who.role in AUDITORS, 200, 403))]


WARNING_READERS = {"security_office", "security_office-out", "student_affairs", "leader"}
WARNING_ENTRY = {"security_office", "security_office-out", "student_affairs"}  # + lead office


def warning_get(path: str, entry_only: bool = False) -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        ok = who.key in (WARNING_ENTRY if entry_only else WARNING_READERS)
        return [Probe("GET", path.format(w=w), _status(ok))]
    return rule


def warning_post(suffix: str) -> Rule:
    # An empty form, or a student who is not a candidate: refused with 422, nothing changed.
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        path = f"/warnings/{w.warning.id}{suffix}" if suffix else "/warnings/new"
        return [Probe("POST", path, _status(who.key in WARNING_ENTRY, 422),
                      {"student_id": "999999"} if suffix else {})]
    return rule


def screening_world(w: SimpleNamespace) -> SimpleNamespace:
    """Start a school-wide screening round in the world, once (the screening rules need it)."""
    if not hasattr(w, "round"):
        from pathlib import Path

        from flask import current_app

        from caseflow.audit import Actor
        from caseflow.services import screening, setup
        from caseflow.services import screening_import as imports

        folder = Path(current_app.config["BPMN_DIR"])
        setup.deploy_sources({name: (folder / name).read_bytes() for name in (
            "class_screening.bpmn", "screening_round.bpmn")}, "test")
        w.round = screening.start_round(None, Actor(None, "test"))
        w.class1_screening = imports.find_class("K1")
    return w


ROUND_SEERS = {"student_affairs", "leader", "college_officer", "college_officer-out"}
CLASS_SCREENERS = {"counselor", "college_officer"}  # class1's counselor and college officer


def screening_rounds(who: Who, w: SimpleNamespace) -> list[Probe]:
    return [Probe("GET", "/screening", _status(who.key in ROUND_SEERS))]


def screening_start(who: Who, w: SimpleNamespace) -> list[Probe]:
    # the lead office gets the form back (an unknown cohort starts nothing); others 404
    return [Probe("POST", "/screening/start", _status(who.key == "student_affairs", 422),
                  {"cohort": "nobody"})]


def screening_round(who: Who, w: SimpleNamespace) -> list[Probe]:
    path = f"/screening/{screening_world(w).round.id}"
    return [Probe("GET", path, _status(who.key in ROUND_SEERS)),
            Probe("GET", "/screening/999999", {404})]


def screening_class(suffix: str, method: str = "GET", ok: int = 200) -> Rule:
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        path = f"/screening/classes/{screening_world(w).class1_screening.id}/{suffix}"
        return [Probe(method, path, _status(who.key in CLASS_SCREENERS, ok))]
    return rule


def api(method: str, path: str) -> Rule:
    # The JSON API takes bearer tokens only (tests/api checks them): a browser session,
    # like no session, answers 401 and never the sign-in redirect.
    def rule(who: Who, w: SimpleNamespace) -> list[Probe]:
        return [Probe(method, path.format(case=case_of(who, w).id, task=task_of(who, w).id),
                      {401}, public=True)]
    return rule


ROUTE_TABLE: dict[str, Rule] = {
    "static": public("/static/caseflow.css"),
    "auth.login": public("/login"),
    "auth.second_factor": pending_factor("/login/code"),
    "auth.enrol_pending": pending_factor("/login/enrol"),
    "auth.logout": signed_in("POST", "/logout", 302),
    "auth.password": signed_in("GET", "/account/password"),
    "auth.totp_setup": signed_in("GET", "/account/second-factor"),
    "main.home": signed_in("GET", "/"),
    "notifications.index": signed_in("GET", "/notifications"),
    "notifications.mark_read": mark_read,
    "notifications.mark_all_read": signed_in("POST", "/notifications/read-all", 302),
    "cases.case_list": case_list,
    "cases.case_file": case_page(),
    "cases.case_history": case_page("/history"),
    "cases.new_case": new_case,
    "cases.register": register,
    "tasks.task": task_page,
    "tasks.claim": task_post("claim"),
    "tasks.release": task_post("release"),
    "tasks.reassign": reassign,
    "students.student_page": student_page,
    "reveal.case_field": reveal_case,
    "reveal.student_field": reveal_student,
    "admin_settings.index": admin_only("GET", "/admin/settings"),
    "admin_settings.save": admin_only("POST", "/admin/settings/session_idle_timeout", 422),
    "admin_faults.index": admin_only("GET", "/admin/faults"),
    "admin_processes.index": admin_only("GET", "/admin/processes"),
    "admin_processes.check": admin_only("POST", "/admin/processes/referral_test/check"),
    "admin_processes.move": admin_only("POST", "/admin/processes/referral_test/move"),
    # version 1 is current already: "unchanged", and back to the list
    "admin_processes.make_current": admin_only("POST", "/admin/processes/versions/1/current",
                                               302),
    "reports.dashboard": report_page("/reports"),
    "reports.dashboard_xlsx": report_page("/reports/dashboard.xlsx"),
    "reports.figure_cases": report_page("/reports/cases"),
    "reports.figure_cases_xlsx": report_page("/reports/cases.xlsx"),
    "reports.case_list_xlsx": list_export,
    "reports.history_xlsx": case_export("history.xlsx"),
    "reports.case_audit_csv": case_export("audit.csv", auditors_only=True),
    "reports.period_audit_csv": auditors("/reports/audit.csv"),
    "reports.brief_page": brief_page(),
    "reports.brief_pdf": brief_page(".pdf"),
    "reports.issued": issued(),
    "reports.issued_pdf": issued(".pdf"),
    "reports.stylesheet": public("/reports/reports.css"),
    "warnings.warning_list": warning_get("/warnings"),
    "warnings.new_warning": lambda who, w: [*warning_get("/warnings/new", True)(who, w),
                                            *warning_post("")(who, w)],
    "warnings.warning_page": warning_get("/warnings/{w.warning.id}"),
    "warnings.pick": warning_post("/pick"),
    "warnings.assign": warning_post("/assign"),
    "screening.rounds": screening_rounds,
    "screening.start": screening_start,
    "screening.round_page": screening_round,
    "screening.template": screening_class("template.xlsx"),
    "screening.upload": screening_class("upload", "POST", 422),  # no file: nothing taken in
    "api-docs.openapi_json": public("/api/v1/openapi.json"),
    "health.healthz": public("/healthz"),
    "health.readyz": public("/readyz"),
    "api.create_warning": api("POST", "/api/v1/warnings"),
    "api.register": api("POST", "/api/v1/cases"),
    "api.cases": api("GET", "/api/v1/cases"),
    "api.case": api("GET", "/api/v1/cases/{case}"),
    "api.my_tasks": api("GET", "/api/v1/tasks"),
    "api.task": api("GET", "/api/v1/tasks/{task}"),
    "api.complete": api("POST", "/api/v1/tasks/{task}/complete"),
}
