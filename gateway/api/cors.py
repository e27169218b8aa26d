"""CORS for the REST API (``/api/…``), preflights included, by the rule of ``origins``.

A request from an origin that is not allowed gets no CORS headers at all, so the browser keeps
the response from the page; a keyed request from such an origin is also refused (403) before it
runs, by ``auth``. No cookies are used, so credentials are never allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from gateway.api.auth import API_KEY, Handler
from gateway.api.errors import error_response
from gateway.api.origins import origin_policy
from gateway.context import context_of
from gateway.errors import Forbidden

API_PREFIX = "/api/"
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After"
PREFLIGHT_MAX_AGE_S = 600  # browsers cap this (Chromium: 2 h); ten minutes keeps changes quick
KEY_ORIGINS_TTL_S = 5.0  # preflights are anonymous: read keys' origins at most this often


@dataclass(slots=True)
class KeyOrigins:
    """A short-lived copy of the origins live keys list."""

    _key_origins: set[str] = field(default_factory=set)
    _read_at: float | None = None

    async def get(self, request: web.Request) -> set[str]:
        ctx = context_of(request)
        now = ctx.clock.monotonic()
        if self._read_at is None or now - self._read_at > KEY_ORIGINS_TTL_S:
            self._key_origins = await ctx.store.keys.live_origins()
            self._read_at = now
        return self._key_origins


KEY_ORIGINS = web.AppKey("kura_key_origins", KeyOrigins)


def _allow(response: web.StreamResponse, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS


def _vary(response: web.StreamResponse) -> None:
    # Caches must not serve one origin's answer (with or without CORS headers) to another.
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"


async def _preflight(request: web.Request, handler: Handler, origin: str) -> web.StreamResponse:
    failure = request.match_info.http_exception
    if not isinstance(failure, web.HTTPMethodNotAllowed):
        return await handler(request)  # an unknown path: its 404 in the usual shape
    method = request.headers.get("Access-Control-Request-Method", "").upper()
    allowed = method in failure.allowed_methods and origin_policy(request).may_preflight(
        origin, await request.app[KEY_ORIGINS].get(request)
    )
    if not allowed:
        response = error_response(Forbidden("this Origin or method may not call this API"))
        _vary(response)
        return response
    response = web.Response(status=204)
    _allow(response, origin)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(failure.allowed_methods))
    response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    _vary(response)
    return response


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is None or not request.path.startswith(API_PREFIX):
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return await _preflight(request, handler, origin)
    response = await handler(request)
    if response.prepared:
        return response  # a WebSocket: its Origin is checked before the upgrade
    if origin_policy(request).allows(origin, request.get(API_KEY)) or await _may_read_refusal(
        request, response, origin
    ):
        _allow(response, origin)
    _vary(response)
    return response


async def _may_read_refusal(
    request: web.Request, response: web.StreamResponse, origin: str
) -> bool:
    """A key that is not accepted (401) is told to the page when its origin passed the
    preflight (some key lists it): a widget then says "the key was not accepted" rather than
    "cannot reach the service", and the page learns nothing about any key."""
    if response.status != 401 or request.get(API_KEY) is not None:
        return False
    return origin_policy(request).may_preflight(origin, await request.app[KEY_ORIGINS].get(request))
