"""Every endpoint's access rule: deny by default (`caseflow.access` re-exports these).

An endpoint missing here is refused by the route gate (caseflow/security.py); the view
then checks the object through `caseflow.access`. tests/security/route_rules.py probes
every endpoint listed here with every role.
"""

from __future__ import annotations

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any signed-in person; the view checks the object through access
ADMIN = "admin"  # administrators only (others: 404)
TOKEN = "token"  # machine clients: the view authenticates the bearer token itself

ROUTES: dict[str, str] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.second_factor": PUBLIC,  # only with a password already checked (session)
    "auth.enrol_pending": PUBLIC,  # the same: a required factor not yet set up
    "auth.logout": SIGNED_IN,
    "auth.password": SIGNED_IN,
    "auth.totp_setup": SIGNED_IN,
    "main.home": SIGNED_IN,
    "notifications.index": SIGNED_IN,
    "notifications.mark_read": SIGNED_IN,
    "notifications.mark_all_read": SIGNED_IN,
    "cases.case_list": SIGNED_IN,
    "cases.case_file": SIGNED_IN,
    "cases.case_history": SIGNED_IN,
    "cases.new_case": SIGNED_IN,
    "cases.register": SIGNED_IN,
    "tasks.task": SIGNED_IN,
    "tasks.claim": SIGNED_IN,
    "tasks.release": SIGNED_IN,
    "tasks.reassign": SIGNED_IN,
    "students.student_page": SIGNED_IN,
    "reveal.case_field": SIGNED_IN,
    "reveal.student_field": SIGNED_IN,
    "admin_settings.index": ADMIN,
    "admin_settings.save": ADMIN,
    "admin_faults.index": ADMIN,
    "admin_processes.index": ADMIN,
    "admin_processes.check": ADMIN,
    "admin_processes.move": ADMIN,
    "admin_processes.make_current": ADMIN,
    # reports (issue 8): each view checks its viewer (reports.may_view, brief.may_see,
    # auditors) and the case through casefile.open_case
    "reports.dashboard": SIGNED_IN,
    "reports.dashboard_xlsx": SIGNED_IN,
    "reports.figure_cases": SIGNED_IN,
    "reports.figure_cases_xlsx": SIGNED_IN,
    "reports.case_list_xlsx": SIGNED_IN,
    "reports.history_xlsx": SIGNED_IN,
    "reports.case_audit_csv": SIGNED_IN,
    "reports.period_audit_csv": SIGNED_IN,
    "reports.brief_page": SIGNED_IN,
    "reports.brief_pdf": SIGNED_IN,
    "reports.issued": SIGNED_IN,
    "reports.issued_pdf": SIGNED_IN,
    "reports.stylesheet": PUBLIC,  # a stylesheet, no data
    # police warnings (issue 7): each view asks may_see_warnings / may_enter_warning
    "warnings.warning_list": SIGNED_IN,
    "warnings.new_warning": SIGNED_IN,
    "warnings.warning_page": SIGNED_IN,
    "warnings.pick": SIGNED_IN,
    "warnings.assign": SIGNED_IN,
    # screening rounds (issue 7): the views check the viewer (may_see_round, the lead
    # office), the round (may_open_round) and the class (may_screen_class) through the
    # screening services
    "screening.rounds": SIGNED_IN,
    "screening.start": SIGNED_IN,
    "screening.round_page": SIGNED_IN,
    "screening.template": SIGNED_IN,
    "screening.upload": SIGNED_IN,
    # the JSON API (issue 7): each view authenticates the bearer token (caseflow.api) and
    # asks here through get_case / get_task and the role helpers; its OpenAPI document
    # describes the API, no data
    "api.*": TOKEN,
    "api-docs.openapi_json": PUBLIC,
    # production: load balancers and monitors ask without signing in; counts and ages only
    "health.healthz": PUBLIC,
    "health.readyz": PUBLIC,
}


def route_rule(endpoint: str) -> str | None:
    """Return the rule of an endpoint (exact, or its blueprint's `name.*`), else None."""
    rule = ROUTES.get(endpoint)
    if rule is None and "." in endpoint:
        rule = ROUTES.get(endpoint.rsplit(".", 1)[0] + ".*")
    return rule
