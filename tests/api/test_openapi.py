"""The served OpenAPI document: valid, complete, and the API keeps to it under fuzzing."""

from __future__ import annotations

import re
import time
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import bearer

PATHS = {
    "/api/v1/warnings": {"post"},
    "/api/v1/cases": {"get", "post"},
    "/api/v1/cases/{case_id}": {"get"},
    "/api/v1/tasks": {"get"},
    "/api/v1/tasks/{task_id}": {"get"},
    "/api/v1/tasks/{task_id}/complete": {"post"},
}
EXAMPLES = 20


def test_the_document_is_valid_openapi_and_lists_every_endpoint(client, w):
    answer = client.get("/api/v1/openapi.json")  # no token needed
    assert answer.status_code == 200 and answer.is_json
    doc = answer.get_json()
    assert doc["openapi"] == "3.0.3" and doc["info"]["version"] == "v1"
    assert {path: set(ops) - {"parameters"} for path, ops in doc["paths"].items()} == PATHS
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, ops in doc["paths"].items():
        for method in PATHS[path]:
            responses = ops[method]["responses"]
            assert {"401", "default"} <= set(responses), (path, method)
            if method == "post":
                assert "422" in responses
                names = {p["name"] for p in ops[method].get("parameters", [])}
                assert "Idempotency-Key" in names
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", client.application)
    schema.validate()  # against the OpenAPI 3.0 meta-schema


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _fuzz(strategy, token, label, statuses):
    """Send EXAMPLES generated requests; check each answer against the document."""
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call(headers=token)
        case.validate_response(response, checks=CHECKS)
        statuses[(label, response.status_code)] += 1

    fuzz()


def _rounds(w):
    """Who fuzzes with which ids: student affairs (school-wide) with any ids, then the
    counselor of case A with its real ids, so the answers with data are checked too."""
    return [(bearer(w.affairs), {}),
            (bearer(w.counselor1), {"case_id": w.a.id, "task_id": w.talk_a.id})]


def test_fuzzing_finds_no_server_error_and_no_answer_off_its_schema(app, w):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    started, statuses = time.monotonic(), Counter()
    for token, ids in _rounds(w):
        for result in schema.get_all_operations():
            operation = result.ok()
            names = set(re.findall(r"{(\w+)}", operation.path))
            if ids and not names:
                continue
            known = {n: ids[n] for n in names} if ids else None
            _fuzz(operation.as_strategy(path_parameters=known), token, operation.label,
                  statuses)
    answered = {label for label, _status in statuses}
    assert len(answered) == 7, statuses
    assert statuses[("GET /api/v1/cases/{case_id}", 200)] > 0, statuses  # real data too
    assert time.monotonic() - started < 60
