"""One JSON error shape for every API answer that is not a success.

`{"code": "not_found", "message": "...", "errors": {"field": ["message", ...]}}`: `code`
is machine-readable, `message` is for people, `errors` (422 only) holds field messages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

from caseflow.services import ServiceError

log = logging.getLogger(__name__)
PREFIX = "/api/"

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large",
              415: "unsupported_media_type", 422: "validation_failed", 429: "too_many_requests",
              500: "server_error", 503: "unavailable"}


def is_api_request() -> bool:
    """Say whether this request is for the JSON API (answer errors as JSON)."""
    return request.path.startswith(PREFIX)


def answer(status: int, message: str, code: str | None = None,
           errors: dict[str, Any] | None = None, headers: dict[str, str] | None = None
           ) -> Response:
    """Return the JSON error answer."""
    body: dict[str, Any] = {"code": code or HTTP_CODES.get(status, "error"), "message": message}
    if errors:
        body["errors"] = field_errors(errors)
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="caseflow"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow messages to `{"field": [messages]}` (nested names dotted)."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for name, value in errors.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            for field, messages in field_errors(value, key).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(errors, list | tuple):
        for item in errors:
            for field, messages in field_errors(item, prefix).items():
                out.setdefault(field, []).extend(messages)
    else:
        out.setdefault(prefix or "_schema", []).append(str(errors))
    return out


def _webargs_errors(data: dict[str, Any]) -> dict[str, Any]:
    """Drop webargs's location level ({"json": {...}}) from its messages."""
    messages = data.get("errors") or data.get("messages") or {}
    merged: dict[str, Any] = {}
    for location, errs in messages.items():
        if isinstance(errs, dict):
            merged.update(errs)
        else:
            merged[location] = errs
    return merged


def http_error(error: HTTPException) -> Response:
    """Answer an HTTP error (abort, routing, webargs validation) as JSON."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = _webargs_errors(data) if status == 422 else None
    message = data.get("message") or error.description or error.name
    if status == 422:
        message = "The request has errors: see `errors`. Nothing was changed."
    headers = dict(data.get("headers") or {})
    response = answer(status, str(message), errors=errors, headers=headers)
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def service_error(error: ServiceError) -> Response:
    """Answer a service refusal: 404 not found, 409 conflict, 422 field errors, 403."""
    from caseflow.db import db

    db.session.rollback()
    errors = getattr(error, "errors", None) if error.status == 422 else None
    message = str(error)
    if errors:
        message = "The request has errors: see `errors`. Nothing was changed."
    if error.status == 404:
        message = "Not found."  # never say whether it exists outside your scope
    return answer(error.status, message, error.code, errors)


def unexpected(error: Exception) -> Response:
    """Answer an unexpected failure with 500 (or 503 when the database is unreachable)."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
    from sqlalchemy.exc import TimeoutError as NoFreeConnection

    from caseflow.db import db

    if isinstance(error, HTTPException):
        return http_error(error)
    if isinstance(error, ServiceError):
        return service_error(error)
    from caseflow.engine import ProcessFault

    if isinstance(error, ProcessFault):  # the model failed: rolled back and recorded
        from caseflow.api.support import actor
        from caseflow.services import faults

        return service_error(faults.failed(error, actor(),
                                           doing=f"{request.method} {request.path}"))
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone: drop the session, the pool reconnects
        db.session.remove()
    from caseflow.engine import EngineError

    if isinstance(error, EngineError):  # the process cannot take this step now
        log.warning("engine refused %s %s: %s", request.method, request.path, error)
        return answer(409, "The case's process cannot take this now; nothing was changed.",
                      "conflict")
    if isinstance(error, DataError):  # a value the schema let through, the column did not
        log.warning("data refused on %s %s: %s", request.method, request.path, error.orig)
        return answer(422, "A value is too long or out of range; nothing was changed.")
    if isinstance(error, IntegrityError):  # another request wrote the same thing first
        return answer(409, "Someone changed this at the same time: try again.", "conflict")
    if isinstance(error, DBAPIError):
        log.warning("database error on %s %s: %s", request.method, request.path,
                    getattr(error, "orig", error))
        return answer(503, "The database is not reachable: try again.",
                      headers={"Retry-After": "5"})
    if isinstance(error, NoFreeConnection):
        log.warning("no free database connection for %s %s", request.method, request.path)
        return answer(503, "The database is busy: try again.", headers={"Retry-After": "5"})
    log.exception("API request %s %s failed", request.method, request.path)
    return answer(500, "Something went wrong on our side.")
