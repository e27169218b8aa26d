"""``GET /metrics``: Prometheus text, for a scraper with the token, or a direct loopback client.

With ``KURA_METRICS_TOKEN`` set, the token is required whatever the address: a reverse proxy
on the same host makes every visitor a loopback client, so the address proves nothing. With no
token, a loopback client is served only when the request came straight to us: a request a
proxy passed on (it carries ``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP`` or ``Via``) is
refused, so the laptop default keeps working and a proxied deployment leaks nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway import metrics
from gateway.api.auth import bearer_token
from gateway.context import context_of
from gateway.errors import Forbidden

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP", "Via")


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _is_direct_loopback(request: web.Request) -> bool:
    """A loopback peer that no proxy stands in front of."""
    proxied = any(name in request.headers for name in PROXY_HEADERS)
    return not proxied and _is_loopback(request.remote)


async def metrics_text(request: web.Request) -> web.Response:
    token = context_of(request).settings.metrics_token
    if token is not None:
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise Forbidden("metrics need the configured bearer token")
    elif not _is_direct_loopback(request):
        raise Forbidden(
            "metrics are served to direct loopback clients only unless KURA_METRICS_TOKEN is set"
        )
    metrics.ASYNCIO_TASKS.set(len(asyncio.all_tasks()))
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response
