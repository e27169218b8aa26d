"""Live monitoring: ``POST /api/v1/sessions/{id}/monitor`` and the supervisor's WebSocket.

The POST (permission ``sessions:monitor``, any session) answers with a ``websocket_url`` whose
``api_key`` is a single-use monitor token, as session creation does for ``connect``. The socket
receives the session's audio both ways (``monitorAudio``), its ``transcriptionUpdate``s and
``turnComplete``s, and may ``whisper``, ``takeOver`` (then send ``audioChunk``s) and
``handBack``. Several supervisors may listen; one holds the call at a time.

A session is monitored on the node that holds it, whichever node the requests reach: on
another node the POST is forwarded, signed, to the owner (which issues the token; the URL is the
deployment's public one), and the socket is proxied to the owner, which redeems the token
(``gateway.api.node_forward``; needs ``KURA_NODE_SECRET`` and ``KURA_NODE_URL``, else the POST
answers 409 naming the reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSMsgType, web

from gateway.api.auth import requires
from gateway.api.bodies import json_response
from gateway.api.errors import error_response
from gateway.api.monitor_schemas import MonitorStarted
from gateway.api.node_auth import verify_node
from gateway.api.node_forward import forward_post, forward_socket, owner_url, with_forwarded_error
from gateway.api.origins import origin_policy
from gateway.api.sequence import MessageSequence
from gateway.context import GatewayContext, context_of
from gateway.errors import Conflict, Forbidden, GatewayError, Unauthorized
from gateway.sessions.conversation import Conversation
from gateway.sessions.monitor import MonitorListener
from gateway.sessions.monitor_protocol import (
    HandBack,
    MonitorControl,
    MonitorOpen,
    TakeOver,
    Whisper,
    encode_monitor,
    parse_supervisor_message,
)
from gateway.sessions.monitor_tokens import MONITOR_TOKEN_PREFIX
from gateway.sessions.protocol import AudioChunk, ProtocolError, SessionError, decode_pcm16, encode
from gateway.sessions.supervision import Supervision
from gateway.store.models import Session

log = logging.getLogger(__name__)

MONITOR_TOKEN_TTL_S = 60.0  # reliability.md row 23: WebSocket tokens live ≤ 60 s
SEND_TIMEOUT_S = 5.0


def monitor_url(ctx: GatewayContext, session_id: str, token: str) -> str:
    base = ctx.settings.public_ws_url
    return f"{base}/api/v1/sessions/{session_id}/monitor/connect?api_key={token}"


@requires("sessions:monitor")
async def start_monitor(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    row = await ctx.sessions.get(request.match_info["session_id"])
    if row.status == "active" and ctx.live.get(row.id) is None:
        url = await owner_url(ctx, row.id)
        if url is not None:  # another node holds it: that node issues the token
            path = f"/internal/v1/sessions/{row.id}/monitor"
            return await forward_post(request, ctx, url, path, b"")
    return await _issue(ctx, row)


async def internal_monitor(request: web.Request) -> web.Response:
    """``POST /internal/v1/sessions/{id}/monitor``: a monitor request another node accepted
    (the supervisor's key was checked there) for a session this node holds."""
    ctx = context_of(request)
    verify_node(request, ctx, await request.read())
    return await _issue(ctx, await ctx.sessions.get(request.match_info["session_id"]))


async def _issue(ctx: GatewayContext, row: Session) -> web.Response:
    """A single-use monitor token for a session live on this node."""
    if row.status != "active":
        raise Conflict(f"session is {row.status}: only a live session can be monitored")
    if ctx.live.get(row.id) is None:
        owner = await ctx.live.owner(row.id)
        if owner is not None and owner != ctx.node_id:
            raise Conflict(
                "session runs on another gateway node, which this one cannot reach (set "
                "KURA_NODE_SECRET and KURA_NODE_URL), or route /api/v1/sessions/{id}/* by "
                "session id"
            )
        raise Conflict("session is not live yet: try again once it is connected")
    ttl_s = min(MONITOR_TOKEN_TTL_S, ctx.settings.session_token_ttl_s)
    token = ctx.live.monitor_tokens.issue(row.id, ctx.clock.monotonic(), ttl_s)
    body = MonitorStarted(websocket_url=monitor_url(ctx, row.id, token), expires_in_s=ttl_s)
    return json_response(body, status=201)


def _check_request(request: web.Request) -> str:
    """The monitor token, once the request's form and ``Origin`` are accepted."""
    token = request.query.get("api_key", "")
    if not token.startswith(MONITOR_TOKEN_PREFIX):
        raise Unauthorized("missing monitor token: use the websocket_url the POST returned")
    origin = request.headers.get("Origin")
    if origin is not None and not origin_policy(request).allows(origin, None):
        raise Forbidden("this Origin may not open monitor WebSockets")
    return token


def _authorize(request: web.Request, ctx: GatewayContext) -> Conversation:
    session_id = request.match_info["session_id"]
    token = _check_request(request)
    if not ctx.live.monitor_tokens.redeem(token, session_id, ctx.clock.monotonic()):
        raise Unauthorized("invalid, spent or expired monitor token")
    conversation = ctx.live.get(session_id)
    if conversation is None:
        raise Conflict("session is no longer live on this node")
    return conversation


async def monitor_session(request: web.Request) -> web.StreamResponse:
    """The supervisor's WebSocket (``GET``, with the monitor token); proxied to the node that
    holds the session when that is another one."""
    ctx = context_of(request)
    session_id = request.match_info["session_id"]
    if ctx.live.get(session_id) is None:
        _check_request(request)
        url = await owner_url(ctx, session_id)
        if url is not None:
            path = f"/internal/v1/sessions/{session_id}/monitor/connect?{request.query_string}"
            return await forward_socket(request, ctx, url, path)
    return await _serve(request, ctx, _authorize(request, ctx))


async def internal_monitor_session(request: web.Request) -> web.StreamResponse:
    """``GET /internal/v1/sessions/{id}/monitor/connect``: a supervisor's socket another node
    received for a session this node holds. A refusal carries its JSON error in a header too,
    as the forwarding node's WebSocket client sees no body."""
    ctx = context_of(request)
    verify_node(request, ctx)
    try:
        conversation = _authorize(request, ctx)
    except GatewayError as exc:
        return with_forwarded_error(error_response(exc))
    return await _serve(request, ctx, conversation)


async def _serve(
    request: web.Request, ctx: GatewayContext, conversation: Conversation
) -> web.StreamResponse:
    row = await ctx.sessions.get(request.match_info["session_id"])
    ws = web.WebSocketResponse(max_msg_size=ctx.settings.ws_max_message_bytes, heartbeat=30)
    await ws.prepare(request)
    listener = MonitorListener()
    supervision = conversation.supervision
    opened = MonitorOpen.model_validate(
        {
            "sessionId": row.id,
            "channel": row.channel,
            "controller": "supervisor" if supervision.human else "assistant",
        }
    )
    listener.offer(encode_monitor(opened))
    conversation.tap.attach(listener)
    log.info("supervisor attached", extra={"session_id": row.id})
    writer = asyncio.create_task(_write(ws, listener), name="monitor-writer")
    try:
        await _read(ws, listener, conversation)
    finally:
        await supervision.release(listener)
        await conversation.tap.detach(listener)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await ws.close(message=b"session_ended" if conversation.ended else b"")
        log.info("supervisor detached", extra={"session_id": row.id, "dropped": listener.dropped})
    return ws


async def _write(ws: web.WebSocketResponse, listener: MonitorListener) -> None:
    """Send what the tap offers; a supervisor that cannot take it is cut, the call is not."""
    sequence = MessageSequence(turn_events=False)  # numbered as on the app socket
    try:
        while (text := await listener.next()) is not None:
            await asyncio.wait_for(ws.send_str(sequence.stamp(text)), SEND_TIMEOUT_S)
    except (TimeoutError, ConnectionError, RuntimeError):
        log.warning("supervisor socket dropped")
    await ws.close(message=b"session_ended")


async def _read(
    ws: web.WebSocketResponse, listener: MonitorListener, conversation: Conversation
) -> None:
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            listener.offer(encode(SessionError(error="send JSON text messages")))
            continue
        try:
            await _act(parse_supervisor_message(frame.data), listener, conversation)
        except ProtocolError as exc:
            listener.offer(encode(SessionError(error=str(exc))))


async def _act(
    message: Whisper | TakeOver | HandBack | AudioChunk,
    listener: MonitorListener,
    conversation: Conversation,
) -> None:
    supervision: Supervision = conversation.supervision
    match message:
        case AudioChunk(audio=audio):
            await supervision.speak(listener, decode_pcm16(audio))
        case Whisper(text=text):
            await supervision.whisper(text)
        case TakeOver():
            await supervision.take_over(listener)
            _announce(conversation, listener, taken=True)
        case HandBack():
            await supervision.hand_back(listener)
            _announce(conversation, listener, taken=False)


def _announce(conversation: Conversation, holder: MonitorListener, *, taken: bool) -> None:
    """Every supervisor learns who speaks to the caller; the holder learns it is them."""
    controller = "supervisor" if taken else "assistant"
    conversation.tap.notice(encode_monitor(MonitorControl(controller=controller)))
    if taken:
        holder.offer(encode_monitor(MonitorControl(controller=controller, you=True)))
