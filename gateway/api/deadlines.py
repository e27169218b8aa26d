"""Read deadlines for every HTTP request, against slowloris and slow-body clients.

aiohttp has no header-read deadline of its own (``slow_request_timeout`` was dropped), but its
keep-alive timer does the job: it runs from a connection's opening and from each answer, and
closes the connection if no complete request has arrived by then — a half-sent header
included. So ``KURA_HTTP_HEADER_TIMEOUT_S`` is passed as aiohttp's ``keepalive_timeout``
(through the app's ``handler_args``, so every runner uses it).

Bodies (64 KiB at most) are read here, before the handler, within ``KURA_HTTP_BODY_TIMEOUT_S``:
a slower body gets 408 and the connection is closed (after aiohttp's lingering read of what
is still coming, which we bound to ``LINGER_S``). Handlers then read the cached body
(``request.read()``/``post()``) at once. A client that hangs up mid-body is logged at INFO,
not as an error with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from config import Settings
from gateway.api.errors import error_response
from gateway.context import context_of
from gateway.errors import BadRequest, RequestTimeout

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


LINGER_S = 2.0  # aiohttp's 10 s default let a refused slow body hold its connection 10 s more


def handler_args(settings: Settings) -> dict[str, Any]:
    """aiohttp's per-connection knobs for the app (``web.Application(handler_args=…)``):
    the header deadline, and how long an unread body is drained after the answer."""
    return {"keepalive_timeout": settings.http_header_timeout_s, "lingering_time": LINGER_S}


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read the whole body within the deadline before the handler runs."""
    if request.body_exists:
        timeout_s = context_of(request).settings.http_body_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                await request.read()
        except TimeoutError:
            log.info("request body too slow; closing", extra={"path": request.path})
            response = error_response(
                RequestTimeout(f"the request body did not arrive within {timeout_s:g} s")
            )
            response.force_close()
            return response
        except ConnectionError:
            log.info("client disconnected mid-body", extra={"path": request.path})
            response = error_response(BadRequest("the client disconnected mid-body"))
            response.force_close()  # nobody reads it: the connection is gone
            return response
    return await handler(request)
