"""Errors the gateway raises toward its clients, each with an HTTP status and a stable code.

    GatewayError                  500 internal_error
    ├── BadRequest                400 bad_request
    ├── Unauthorized              401 unauthorized
    ├── Forbidden                 403 forbidden
    ├── NotFound                  404 not_found
    ├── RequestTimeout            408 request_timeout    (the body came too slowly)
    ├── Conflict                  409 conflict
    ├── PayloadTooLarge           413 payload_too_large
    ├── ValidationFailed          422 validation_error   (details: which field and why)
    ├── RateLimited               429 rate_limited       (retry_after_s)
    ├── CarrierFailed             502 carrier_error      (the carrier refused or failed)
    └── Unavailable               503 unavailable        (retryable)

The API turns each into the one JSON error shape (``gateway.api.errors``).
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status = 500
    code = "internal_error"
    retryable = False

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class BadRequest(GatewayError):
    status, code = 400, "bad_request"


class Unauthorized(GatewayError):
    status, code = 401, "unauthorized"


class Forbidden(GatewayError):
    status, code = 403, "forbidden"


class NotFound(GatewayError):
    status, code = 404, "not_found"


class RequestTimeout(GatewayError):
    status, code = 408, "request_timeout"
    retryable = True


class Conflict(GatewayError):
    status, code = 409, "conflict"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class ValidationFailed(GatewayError):
    status, code = 422, "validation_error"


class RateLimited(GatewayError):
    status, code = 429, "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CarrierFailed(GatewayError):
    status, code = 502, "carrier_error"


class Unavailable(GatewayError):
    status, code = 503, "unavailable"
    retryable = True
