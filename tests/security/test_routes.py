"""Every registered route answers each role, in scope and out of scope, as documented.

A route missing from route_rules.ROUTE_TABLE (or from access.ROUTES) fails here.
"""

from __future__ import annotations

import pytest

from caseflow import access
from tests.production.support import worker_alive
from tests.security.conftest import signin, token
from tests.security.route_rules import ROUTE_TABLE, WHO, Who


def test_every_route_has_a_rule_in_the_table_and_in_access(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - ROUTE_TABLE.keys())
    assert not missing, f"routes without a rule in tests/security/route_rules.py: {missing}"
    stale = sorted(ROUTE_TABLE.keys() - endpoints)
    assert not stale, f"rules for routes that no longer exist: {stale}"
    ungated = sorted(e for e in endpoints if access.route_rule(e) is None)
    assert not ungated, f"routes without an entry in caseflow.access.ROUTES: {ungated}"


def test_process_deployment_is_for_admins_only(app):
    for rule in app.url_map.iter_rules():
        if any(word in rule.rule for word in ("deploy", "bpmn", "/admin")):
            assert access.route_rule(rule.endpoint) == access.ADMIN, rule.rule


def test_an_endpoint_without_an_access_rule_is_refused(app, client):
    from flask import Blueprint

    bp = Blueprint("forgotten", __name__)
    bp.add_url_rule("/forgotten", "page", lambda: "secret")
    app.register_blueprint(bp)
    assert client.get("/forgotten").status_code == 404


def _order(endpoint: str) -> tuple[bool, str]:
    return endpoint == "auth.logout", endpoint  # signing out last


@pytest.mark.parametrize("who", WHO, ids=[w.key for w in WHO])
def test_each_route_answers_as_documented(app, client, w, who: Who):
    worker_alive()  # a school that works runs a timer worker: /healthz answers 200
    signin(client, who.username)
    csrf = token(client)
    failures = []
    for endpoint in sorted(ROUTE_TABLE, key=_order):
        for probe in ROUTE_TABLE[endpoint](who, w):
            expect = probe.expect if (who.username or probe.public) else {302}
            data = {"csrf_token": csrf, **probe.data} if probe.method == "POST" else None
            answer = client.open(probe.path, method=probe.method, data=data)
            if answer.status_code not in expect:
                failures.append(f"{endpoint} {probe.method} {probe.path}: "
                                f"{answer.status_code}, expected {sorted(expect)}")
    assert not failures, "\n".join(failures)
