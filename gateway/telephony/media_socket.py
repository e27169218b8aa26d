"""``GET /telephony/twilio/media``: Twilio's Media Streams socket, bridged to a session.

Nothing costly happens before the caller is proven: the upgrade must carry Twilio's signature
over the ``wss://`` Stream URL (else 403, no socket), and the ``start`` message must carry the
single-use token the voice webhook issued for this CallSid and session (else close 1008), all
before any provider is connected.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from gateway import metrics
from gateway.context import GatewayContext, context_of
from gateway.errors import Conflict, Forbidden, Unavailable
from gateway.sessions.runner import BuiltinTool
from gateway.store.models import Session
from gateway.telephony.bridge import CallBridge
from gateway.telephony.service import TELEPHONY, Telephony
from gateway.telephony.signatures import SIGNATURE_HEADER
from gateway.telephony.twilio_codec import StreamStarted, decode
from providers.events import ToolCall
from providers.spec import ToolSpec

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0  # Twilio sends connected+start at once; a silent socket is not Twilio
MAX_MESSAGE_BYTES = 1024 * 1024  # hard cap (close 1009); frames over 64 KiB are ignored below it
TRANSFER_TOOL = ToolSpec(
    name="transfer_call",
    description="Transfer the caller to a human colleague. Say a short line first.",
    parameters={"type": "object", "properties": {"reason": {"type": "string"}}},
)
END_CALL_TOOL = ToolSpec(
    name="end_call",
    description="Hang up once the conversation is over. Say goodbye first.",
    parameters={"type": "object", "properties": {}},
)


async def media_stream(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    telephony = request.app[TELEPHONY]
    if telephony.signatures is None:
        raise Unavailable("telephony is not configured (KURA_TWILIO_AUTH_TOKEN)")
    if not telephony.signatures.media_handshake_is_valid(request.headers.get(SIGNATURE_HEADER)):
        log.warning("media socket refused: bad signature")
        raise Forbidden("invalid Twilio signature")
    # No ping heartbeat: aiohttp re-arms it on every message (about 4 % of a loaded gateway's
    # CPU), and Twilio's 50 frames a second already prove the peer alive; the bridge's watchdog
    # ends a call whose stream goes quiet.
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    try:
        started = await _await_start(ws)
        session = await _admit(ctx, telephony, started) if started else None
        if started is None or session is None:
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"not admitted")
            return ws
        await _run_call(ctx, telephony, ws, started, session)
    finally:
        if not ws.closed:
            await ws.close()
    return ws


async def _await_start(ws: web.WebSocketResponse) -> StreamStarted | None:
    """Skip ``connected``; the stream's ``start``, or None if it does not come in time."""
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                event = decode(frame.data)
                if isinstance(event, StreamStarted):
                    return event
    except TimeoutError:
        log.warning("media socket closed: no start message")
    return None


async def _admit(
    ctx: GatewayContext, telephony: Telephony, started: StreamStarted
) -> Session | None:
    """Redeem the call's single-use token and claim its session (one stream per call)."""
    params = started.custom_parameters
    session = await telephony.calls.redeem_media_token(
        started.call_sid, params.get("session_id", ""), params.get("token", "")
    )
    if session is None:
        log.warning("media socket refused: bad or used token", extra={"call_sid": started.call_sid})
        return None
    try:
        return await ctx.sessions.claim(session)
    except Conflict:
        log.warning("media socket refused: session taken", extra={"session_id": session.id})
        return None


async def _run_call(
    ctx: GatewayContext,
    telephony: Telephony,
    ws: web.WebSocketResponse,
    started: StreamStarted,
    session: Session,
) -> None:
    bridge = CallBridge(ws, started.stream_sid)
    metrics.CALLS_ACTIVE.inc()
    try:
        assistant = await ctx.store.assistants.get(session.assistant_id, include_deleted=True)
        can_transfer = bool(assistant and assistant.transfer_number)
        builtins = _builtin_tools(telephony, session, bridge, can_transfer=can_transfer)
        reader = functools.partial(CallBridge.read_carrier, bridge)
        reason = await ctx.runner.run(session, bridge, reader, builtins, assistant=assistant)
        await bridge.finish()
        log.info("call ended", extra={"session_id": session.id, "reason": reason})
    finally:
        metrics.CALLS_ACTIVE.dec()


def _builtin_tools(
    telephony: Telephony, session: Session, bridge: CallBridge, *, can_transfer: bool
) -> dict[str, BuiltinTool]:
    """``end_call`` always; ``transfer_call`` when the assistant has a number to transfer to."""

    async def end_call(call: ToolCall) -> dict[str, object]:
        bridge.end_after_response("assistant_ended")
        return {"ok": True}

    async def transfer(call: ToolCall) -> dict[str, object]:
        if not await telephony.calls.request_transfer(session.id):
            return {"error": "transfer is not possible on this call"}
        bridge.end_after_response("transferred")
        return {"ok": True, "note": "The call is transferred when you finish speaking."}

    tools = {"end_call": BuiltinTool(END_CALL_TOOL, end_call)}
    if can_transfer:
        tools["transfer_call"] = BuiltinTool(TRANSFER_TOOL, transfer)
    return tools
