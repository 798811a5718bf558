"""The JSON API, /api/v1: bearer tokens, one error shape, an OpenAPI document.

The document is made from the marshmallow schemas by flask-smorest and served at
/api/v1/openapi.json (no Swagger page: it would load its assets from the internet).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api as _Api

from caseflow.api.schemas import ErrorSchema

OPENAPI_PATH = "/api/v1/openapi.json"


class Api(_Api):
    """flask-smorest's Api with caseflow's error shape, on the API blueprint only."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        # the screens keep their HTML error pages; web._error_page asks errors.is_api_request
        pass


def init_app(app: Flask) -> None:
    """Serve the API and its OpenAPI document (CSRF-exempt: tokens, not cookies)."""
    from caseflow.api import routes  # noqa: F401  (the endpoints join the blueprint)
    from caseflow.api.support import bp
    from caseflow.web import csrf

    app.config.update(
        API_TITLE="caseflow", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS=_spec_options())
    api = Api(app)
    api.ma_plugin.converter.add_attribute_function(_decimal_numbers)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer",
                   "description": "An API token issued by an administrator "
                                  "(caseflow users issue-token)"})
    csrf.exempt(bp)
    api.register_blueprint(bp)
    app.extensions["caseflow-api"] = api


def _decimal_numbers(self: Any, field: Any, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Write a Decimal field's bounds and default as JSON numbers, not strings."""
    from decimal import Decimal

    from marshmallow import fields

    if not isinstance(field, fields.Decimal):
        return {}
    return {k: float(v) for k, v in ret.items()
            if k in ("minimum", "maximum", "default") and isinstance(v, str | Decimal)}


def _spec_options() -> dict[str, Any]:
    return {
        "security": [{"bearer": []}],
        "info": {"description": "Token-authenticated API of caseflow. Errors are JSON: "
                               '{"code": "...", "message": "...", "errors": {field: [..]}}.'},
        "servers": [{"url": "/"}],
    }

