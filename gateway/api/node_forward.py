"""Reach the node that holds a session: forward a resume, a REST chat message or a monitor
request (the POST and the supervisor's socket) to it.

The session directory names the owner, ``NodeAddresses`` its internal URL; the request goes to
the owner's internal door (``/internal/v1/…``), signed (``gateway.api.node_auth``). A socket
(resume, monitor) is checked there before the owner's upgrade (its 400/401/409 is relayed, body
and all, before our own upgrade), then proxied frame by frame; a POST's answer (JSON or SSE) is
streamed back as it comes. This node has already done what it can alone (the session exists,
the caller's key or ``Origin`` is accepted): the owner holds the tokens and the conversation.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Mapping

import aiohttp
from aiohttp import WSMsgType, web

from gateway.api.node_auth import signed_headers
from gateway.api.session_socket import SEND_TIMEOUT_S
from gateway.context import GatewayContext
from gateway.errors import Unavailable
from gateway.state.control import StateUnavailable

log = logging.getLogger(__name__)

FORWARD_TIMEOUT_S = 10.0
"""Connecting to the owner and its answer to a resume check; a chat answer streams longer."""
FORWARDED_ERROR = "X-Kura-Forwarded-Error"
"""Header of an internal door's refusal: its JSON error, base64url."""
CHAT_READ_TIMEOUT_S = 75.0
"""Longer than the owner's own wait for a reply (60 s), so its 503 reaches the client."""


class NodeClient:
    """One HTTP client for requests to the other nodes (closed with the app)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(sock_connect=FORWARD_TIMEOUT_S)
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


NODE_CLIENT = web.AppKey("kura_node_client", NodeClient)


async def owner_url(ctx: GatewayContext, session_id: str) -> str | None:
    """The internal URL of the other node that holds the session, if forwarding can reach it."""
    if ctx.settings.node_secret is None:
        return None
    try:
        owner = await ctx.live.owner(session_id)
        if owner is None or owner == ctx.node_id:
            return None
        return await ctx.shared.addresses.address(owner)
    except StateUnavailable:
        return None


def with_forwarded_error(response: web.Response) -> web.Response:
    """An error answer of the internal door with its JSON body in ``FORWARDED_ERROR`` too."""
    assert isinstance(response.body, bytes)
    response.headers[FORWARDED_ERROR] = base64.urlsafe_b64encode(response.body).decode()
    return response


async def forward_resume(request: web.Request, ctx: GatewayContext, url: str) -> web.StreamResponse:
    """Open the resume on the owner, then proxy the client's socket to it."""
    path = f"/internal/v1/sessions/{request.match_info['session_id']}/resume?{request.query_string}"
    return await forward_socket(request, ctx, url, path)


async def forward_socket(
    request: web.Request, ctx: GatewayContext, url: str, path: str
) -> web.StreamResponse:
    """Open the socket at the owner's internal ``path`` (its refusal is relayed as is, before
    our upgrade), then proxy the client's socket to it. One round trip: the owner checks
    before its upgrade."""
    client = request.app[NODE_CLIENT].session
    try:
        upstream = await client.ws_connect(
            url + path,
            headers=signed_headers(ctx, "GET", path),
            heartbeat=30,
            timeout=aiohttp.ClientWSTimeout(ws_close=FORWARD_TIMEOUT_S),
        )
    except aiohttp.WSServerHandshakeError as exc:
        headers = exc.headers
        refusal = headers.get(FORWARDED_ERROR) if isinstance(headers, Mapping) else None
        if refusal is None:
            raise Unavailable("the node that holds this session did not answer") from exc
        body = base64.urlsafe_b64decode(refusal)
        return web.Response(status=exc.status, body=body, content_type="application/json")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable("the node that holds this session did not answer") from exc
    ws = web.WebSocketResponse(max_msg_size=ctx.settings.ws_max_message_bytes, heartbeat=30)
    try:
        await ws.prepare(request)
        await _proxy(ws, upstream)
    finally:
        await upstream.close()
    return ws


async def _proxy(ws: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Frames both ways until one side closes; the owner's close code and reason reach the
    client, and a client that goes makes the owner see its socket drop."""
    down = asyncio.create_task(_downstream(ws, upstream), name="resume-proxy-down")
    up = asyncio.create_task(_upstream(ws, upstream), name="resume-proxy-up")
    try:
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (down, up):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if down.done() and not down.cancelled() and down.exception() is None:
        code, reason = down.result()
        await ws.close(code=code, message=reason)
    else:
        await ws.close()


async def _downstream(
    ws: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
) -> tuple[int, bytes]:
    while True:
        message = await upstream.receive()
        if message.type == WSMsgType.TEXT:
            await asyncio.wait_for(ws.send_str(message.data), SEND_TIMEOUT_S)
        elif message.type == WSMsgType.CLOSE:
            return int(message.data), (message.extra or "").encode()[:120]
        elif message.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return upstream.close_code or 1011, b""


async def _upstream(ws: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await upstream.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await upstream.send_bytes(message.data)  # the owner answers it with sessionError


async def forward_message(
    request: web.Request, ctx: GatewayContext, url: str, body: bytes
) -> web.StreamResponse:
    """Send a REST chat message to the owner; stream its answer back unchanged."""
    path = f"/internal/v1/sessions/{request.match_info['session_id']}/messages"
    return await forward_post(request, ctx, url, path, body)


async def forward_post(
    request: web.Request, ctx: GatewayContext, url: str, path: str, body: bytes
) -> web.StreamResponse:
    """POST ``body`` to the owner's internal ``path``; stream its answer back unchanged."""
    client = request.app[NODE_CLIENT].session
    headers = signed_headers(ctx, "POST", path, body)
    headers["Content-Type"] = "application/json"
    headers["Accept"] = request.headers.get("Accept", "application/json")
    timeout = aiohttp.ClientTimeout(sock_connect=FORWARD_TIMEOUT_S, sock_read=CHAT_READ_TIMEOUT_S)
    response = web.StreamResponse()
    try:
        async with client.post(url + path, data=body, headers=headers, timeout=timeout) as answer:
            response.set_status(answer.status)
            for name in ("Content-Type", "Cache-Control", "X-Accel-Buffering"):
                if name in answer.headers:
                    response.headers[name] = answer.headers[name]
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        if not response.prepared:
            raise Unavailable("the node that holds this session did not answer") from exc
        log.warning("forwarded chat answer cut off", extra={"path": path})
        return response  # the client sees the stream end early, as if the owner had gone
    await response.write_eof()
    return response


def install(app: web.Application) -> None:
    client = NodeClient()
    app[NODE_CLIENT] = client

    async def close(_app: web.Application) -> None:
        await client.aclose()

    app.on_cleanup.append(close)
