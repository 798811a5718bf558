"""The API blueprint, bearer-token sign-in, the audit actor and Idempotency-Key replays."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request
from flask_smorest import Blueprint
from marshmallow import Schema

from caseflow.api import errors
from caseflow.audit import Actor
from caseflow.services import api_tokens, idempotency
from caseflow.services.api_tokens import TokenPrincipal

bp = Blueprint("api", __name__, url_prefix="/api/v1",
               description="caseflow's JSON API for machine clients (bearer tokens)")

KEY_HEADER = "Idempotency-Key"
_KEY = re.compile(rf"[\x21-\x7e]{{1,{idempotency.KEY_MAX}}}")
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PARAMETER = {
    "in": "header", "name": KEY_HEADER, "required": False,
    "description": "Any unique text (≤ 100 characters). A retry with the same key returns "
                   "the first answer (header Idempotent-Replayed: true); the same key with "
                   "another body answers 422 idempotency_key_reused; while the first request "
                   "runs, 409 idempotency_key_in_use (a key whose request died is taken "
                   "over by a retry after 2 minutes). Keys are kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.KEY_MAX,
               "pattern": "^[\\x21-\\x7e]+$"},
}


@bp.before_request
def _sign_in() -> Response | None:
    """Authenticate the bearer token (audited), or answer 401."""
    principal = api_tokens.authenticate(request.headers.get("Authorization"))
    if principal is None:
        return errors.answer(401, "Send a valid API token: Authorization: Bearer cf_…")
    g.api_principal = principal
    g._login_user = principal  # Flask-Login's current_user for this request only
    bad = _nul_fields()
    if bad:
        return errors.answer(422, "Text may not contain NUL characters. Nothing was changed.",
                             errors=bad)
    return None


def _nul_fields() -> dict[str, list[str]]:
    """Return the query and body fields holding a NUL character (no database stores one)."""
    found = [name for name, value in request.args.items(multi=True)
             if "\x00" in name or "\x00" in value]
    found += _nul_paths(request.get_json(silent=True) if request.is_json else None, "")
    return {name or "_schema": ["may not contain NUL characters"] for name in found}


def _nul_paths(value: Any, at: str) -> list[str]:
    if isinstance(value, str):
        return [at] if "\x00" in value else []
    if isinstance(value, dict):
        return [p for k, v in value.items()
                for p in ([f"{at}.{k}".strip(".")] if "\x00" in str(k) else [])
                + _nul_paths(v, f"{at}.{k}".strip("."))]
    if isinstance(value, list):
        return [p for v in value for p in _nul_paths(v, at)]
    return []


def principal() -> TokenPrincipal:
    """Return the token principal of this request."""
    return g.api_principal  # type: ignore[no-any-return]


def actor() -> Actor:
    """Describe the token's user and the request for the audit trail."""
    who = principal()
    held = who.role_names
    return Actor(who.id, f"{who.username} ({who.token.prefix}…)", held[0] if held else None,
                 request.remote_addr, request.headers.get("User-Agent"))


def documented(*codes: int) -> Callable[[Any], Any]:
    """Document the error answers an endpoint gives (always 401)."""
    from caseflow.api.schemas import ErrorSchema

    why = {401: "No valid bearer token", 403: "The token's roles may not do this",
           404: "Not found, or outside the token's scope",
           409: "Conflict: already completed, changed meanwhile, or a key still in use",
           422: "Field errors; nothing was changed"}

    def decorate(view: Any) -> Any:
        for code in sorted({401, *codes}):
            view = bp.alt_response(code, schema=ErrorSchema, description=why[code])(view)
        return view
    return decorate


def _key() -> str | None:
    key = request.headers.get(KEY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise _bad_key()
    return key


def _bad_key() -> Exception:
    from caseflow.services import ValidationFailed

    return ValidationFailed({KEY_HEADER: ["1 to 100 visible ASCII characters, no spaces"]})


def api_key() -> str | None:
    """Return this request's Idempotency-Key (checked), if any."""
    return g.get("api_key")


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer a retry with the same Idempotency-Key with the first answer (kept 24 hours).

    Only successful answers are kept: a refused request changed nothing, so its key is
    given back and may be retried. The view passes `answering(...)` to its service, which
    stores the answer in the transaction of the work; `keep` stores it afterwards for a
    service that did not (e.g. a task form's repeat answered from its submission token).
    """
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = g.api_key = _key()
        if key is None:
            return view(*args, **kwargs)
        digest = idempotency.request_digest(f"{request.method} {request.path}", _body())
        claimed = idempotency.claim(principal().id, key, request.endpoint or "", digest)
        if isinstance(claimed, idempotency.Answer):
            return Response(claimed.body, claimed.status, mimetype="application/json",
                            headers={REPLAYED_HEADER: "true"})
        g.api_claim = claimed
        try:
            response = _as_response(view(*args, **kwargs))
        except BaseException:
            idempotency.release(claimed)
            raise
        if 200 <= response.status_code < 300:
            idempotency.keep(claimed, idempotency.Answer(response.status_code,
                                                         response.get_data(as_text=True)))
        else:
            idempotency.release(claimed)
        return response
    return wrapper


def answering(shape: Callable[[Any], tuple[Any, int]], schema: type[Schema]
              ) -> Callable[[Any], None] | None:
    """Return the hook a service calls just before its commit to store this request's answer
    with its work (None without an Idempotency-Key).

    `shape` turns the service's result into what the view returns (value, status), `schema`
    is the view's response schema: the stored answer is the one the view gives.
    """
    claimed: idempotency.Claim | None = g.get("api_claim")
    if claimed is None:
        return None

    def store(result: Any) -> None:
        value, status = shape(result)
        body = current_app.json.dumps(schema().dump(value))
        idempotency.answer(claimed, idempotency.Answer(status, body))
    return store


def _as_response(value: Any) -> Response:
    """Turn a view's return value into a Response."""
    return current_app.make_response(value)


def _body() -> bytes:
    """Return the request body, as canonical JSON when it is JSON (key order, spacing)."""
    raw = request.get_data()
    try:
        return json.dumps(json.loads(raw), sort_keys=True, ensure_ascii=False).encode()
    except ValueError:
        return raw


bp.register_error_handler(Exception, errors.unexpected)  # JSON for every error (errors.py)
