"""API key authentication, permissions and per-key rate limits, as one aiohttp middleware.

A handler declares what it needs with ``@requires(...)``; handlers without it are public.
Every keyed response carries ``X-RateLimit-Limit/Remaining/Reset``; requests without a valid
key are limited per client address, which also slows key guessing.

Publishable keys (``kura_pk_…``) are refused on every route but those marked
``@publishable`` — deny by default, so a new route can never be opened to them by accident —
and only work from a browser on one of their origins, limited per key and per visitor address.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from gateway.api.errors import error_response, http_error_response
from gateway.api.origins import origin_policy
from gateway.context import GatewayContext, context_of
from gateway.errors import Forbidden, GatewayError, RateLimited, Unauthorized
from gateway.state.ratelimit import RateDecision
from gateway.store.keys import PUBLISHABLE_PREFIX
from gateway.store.models import ApiKey

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)
API_KEY = web.RequestKey("kura_api_key", ApiKey)


def requires(*any_of: str) -> Callable[[H], H]:
    """Mark a handler as needing a key with at least one of these permissions."""

    def mark(handler: H) -> H:
        handler.kura_permissions = any_of  # type: ignore[attr-defined]
        return handler

    return mark


def publishable(handler: H) -> H:
    """Mark a handler as open to publishable keys (it checks their scope itself)."""
    handler.kura_publishable = True  # type: ignore[attr-defined]
    return handler


def key_of(request: web.Request) -> ApiKey:
    return request[API_KEY]


def is_publishable(key: ApiKey) -> bool:
    return key.kind == "publishable"


def has_permission(key: ApiKey, permission: str) -> bool:
    # A publishable key can only ever create sessions, whatever its row says.
    if is_publishable(key) and permission != "sessions:create":
        return False
    return permission in key.permissions


def _refuse_publishable(request: web.Request, route_handler: Any) -> None:
    """403 for a publishable key on a route not marked ``@publishable``, without a lookup."""
    if getattr(route_handler, "kura_publishable", False):
        return
    credential = bearer_token(request) or request.query.get("api_key") or ""
    if credential.startswith(PUBLISHABLE_PREFIX):
        raise Forbidden("a publishable key (kura_pk_...) may only create sessions")


def _check_origin(request: web.Request, key: ApiKey) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        if is_publishable(key):
            raise Forbidden("a publishable key works only from a page on its allowed_origins")
        return
    if not origin_policy(request).allows(origin, key):
        raise Forbidden(
            "this API key may not be used from this Origin: list it in the key's "
            "allowed_origins or in KURA_ALLOWED_ORIGINS"
        )


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _authenticate(request: web.Request, ctx: GatewayContext) -> ApiKey:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("missing API key: send Authorization: Bearer kura_live_...")
    key = await ctx.store.keys.find_by_secret(token)
    if key is None:
        raise Unauthorized("invalid or revoked API key")
    return key


def _check_permission(key: ApiKey, any_of: tuple[str, ...]) -> None:
    if any(has_permission(key, p) for p in any_of):
        return
    alternatives = " or ".join(any_of)
    raise Forbidden(f"this API key lacks the permission {alternatives}")


async def _limit(ctx: GatewayContext, bucket: str, limit: int) -> RateDecision:
    decision = await ctx.limiter.hit(bucket, limit)
    if not decision.allowed:
        raise _RateLimitedWith(decision)
    return decision


class _RateLimitedWith(RateLimited):
    def __init__(self, decision: RateDecision) -> None:
        super().__init__(
            f"rate limit of {decision.limit} requests per minute exceeded",
            retry_after_s=decision.retry_after_s,
        )
        self.decision = decision


async def _limit_key(request: web.Request, ctx: GatewayContext, key: ApiKey) -> RateDecision:
    if not is_publishable(key):
        return await _limit(ctx, f"key:{key.id}", key.rate_limit_per_minute)
    # Everyone can read a publishable key: one visitor must not spend the whole site's limit.
    per_address = ctx.settings.publishable_rate_limit_per_address
    visitor = await _limit(ctx, f"pk:{key.id}:ip:{request.remote}", per_address)
    site = await _limit(ctx, f"key:{key.id}", key.rate_limit_per_minute)
    return visitor if visitor.remaining < site.remaining else site


def _rate_headers(response: web.StreamResponse, decision: RateDecision) -> None:
    response.headers["X-RateLimit-Limit"] = str(decision.limit)
    response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    response.headers["X-RateLimit-Reset"] = str(decision.reset_epoch_s)


async def _guarded(
    request: web.Request, handler: Handler, ctx: GatewayContext, any_of: tuple[str, ...]
) -> tuple[web.StreamResponse, RateDecision]:
    try:
        key = await _authenticate(request, ctx)
    except Unauthorized as exc:
        # Unauthenticated traffic is counted per address: a 429 here slows key guessing.
        decision = await _limit(
            ctx, f"ip:{request.remote}", ctx.settings.default_rate_limit_per_minute
        )
        response = error_response(exc)
        return response, decision
    decision = await _limit_key(request, ctx, key)
    request[API_KEY] = key
    try:
        _check_origin(request, key)
        _check_permission(key, any_of)
        return await handler(request), decision
    except GatewayError as exc:
        return error_response(exc), decision


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors in one JSON shape; keys, permissions and rate limits for guarded handlers."""
    ctx = context_of(request)
    route_handler: Any = request.match_info.handler
    any_of: tuple[str, ...] | None = getattr(route_handler, "kura_permissions", None)
    try:
        _refuse_publishable(request, route_handler)
        if any_of is None:
            return await handler(request)
        response, decision = await _guarded(request, handler, ctx, any_of)
    except _RateLimitedWith as exc:
        response, decision = error_response(exc), exc.decision
    except GatewayError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return http_error_response(exc)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return error_response(GatewayError("internal error"))
    if not response.prepared:
        _rate_headers(response, decision)
    return response
