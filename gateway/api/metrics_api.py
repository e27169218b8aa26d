"""``GET /metrics``: Prometheus text, for a scraper with the token or on loopback."""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.auth import bearer_token
from gateway.context import context_of
from gateway.errors import Forbidden


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


async def metrics_text(request: web.Request) -> web.Response:
    token = context_of(request).settings.metrics_token
    if token is not None:
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise Forbidden("metrics need the configured bearer token")
    elif not _is_loopback(request.remote):
        raise Forbidden("metrics are served to loopback only unless KURA_METRICS_TOKEN is set")
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response
