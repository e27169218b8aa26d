"""The one JSON error shape, used by every REST error (and documented in the OpenAPI spec)::

{"error": {"code": "validation_error", "message": "...", "details": [{"field": ..., ...}]}}
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.errors import GatewayError, RateLimited, ValidationFailed


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> bytes:
    import json

    payload: dict[str, Any] = {"code": code, "message": message}
    if details:
        payload["details"] = details
    return json.dumps({"error": payload}).encode()


def error_response(exc: GatewayError) -> web.Response:
    response = web.Response(
        status=exc.status,
        body=error_body(exc.code, exc.message, exc.details),
        content_type="application/json",
    )
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def http_error_response(exc: web.HTTPException) -> web.Response:
    """aiohttp's own 404/405/413 in our shape (its default body is plain text)."""
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    response = web.Response(
        status=exc.status,
        body=error_body(codes.get(exc.status, "http_error"), exc.reason),
        content_type="application/json",
    )
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def validation_failed(exc: ValidationError, *, prefix: str = "") -> ValidationFailed:
    """A pydantic error as a 422 that names each field and why."""
    details = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        details.append({"field": prefix + field, "message": error["msg"]})
    fields = ", ".join(d["field"] for d in details)
    return ValidationFailed(f"invalid request: {fields}", details=details)
