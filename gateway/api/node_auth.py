"""Node-to-node requests: signed with the shared ``KURA_NODE_SECRET`` (HMAC-SHA256).

The signature covers the method, the path with its query, a timestamp and the body's hash,
so a request cannot be altered, moved to another path or replayed after ``MAX_SKEW_S``. The
internal door (``/internal/v1/…``) answers nothing that is not signed: without the secret
configured it answers 404, with a missing or bad signature 403. A forwarded request still
carries the client's own credential where there is one (the resume token), which the owner
checks as if the client had come straight to it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web

from gateway.context import GatewayContext
from gateway.errors import Forbidden, NotFound

NODE_HEADER = "X-Kura-Node"
TIME_HEADER = "X-Kura-Node-Time"
SIGNATURE_HEADER = "X-Kura-Node-Signature"
MAX_SKEW_S = 30.0
"""Clocks of nodes in one deployment agree far better than this; a captured request is
useless after it."""


def _signature(secret: str, method: str, path_qs: str, stamp: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    text = f"{method.upper()}\n{path_qs}\n{stamp}\n{digest}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    ctx: GatewayContext, method: str, path_qs: str, body: bytes = b""
) -> dict[str, str]:
    """The headers that make a request to another node's internal door."""
    secret = ctx.settings.node_secret
    assert secret is not None, "forwarding is off without KURA_NODE_SECRET"
    stamp = f"{time.time():.3f}"
    return {
        NODE_HEADER: ctx.node_id,
        TIME_HEADER: stamp,
        SIGNATURE_HEADER: _signature(secret.get_secret_value(), method, path_qs, stamp, body),
    }


def verify_node(request: web.Request, ctx: GatewayContext, body: bytes = b"") -> None:
    """Refuse a request to the internal door unless another node of ours signed it."""
    secret = ctx.settings.node_secret
    if secret is None:
        raise NotFound("not found")
    stamp = request.headers.get(TIME_HEADER, "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    try:
        skew = abs(time.time() - float(stamp))
    except ValueError:
        skew = float("inf")
    expected = _signature(secret.get_secret_value(), request.method, request.path_qs, stamp, body)
    if not hmac.compare_digest(expected, given) or skew > MAX_SKEW_S:
        raise Forbidden("node-to-node requests must be signed with KURA_NODE_SECRET")
