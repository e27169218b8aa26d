"""``GET /telephony/{carrier}/media``: a carrier's media socket, bridged to a session.

Generic over the registered carriers (``Telephony.carriers``); Twilio's socket is
``/telephony/twilio/media``. Nothing costly happens before the caller is proven: the upgrade
must pass the carrier's handshake check (Twilio: its signature over the ``wss://`` Stream URL;
else 403, no socket), and the start event must carry, in the carrier's custom parameters, the
single-use token the voice webhook issued for this call and session (else close 1008), all
before any provider is connected. Admission waits out a database stall within a bound
(``media_admission``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from gateway import metrics, tracing
from gateway.api.assistant_settings import InterruptionFields
from gateway.api.socket_backpressure import bound_send_buffers, dropping_stalled_peer
from gateway.context import GatewayContext, context_of
from gateway.errors import Forbidden, NotFound, Unavailable
from gateway.store.models import Assistant, Session
from gateway.telephony.bridge import CallBridge, ToolAnswer
from gateway.telephony.carriers.events import StreamStarted
from gateway.telephony.carriers.registry import Carrier, Decoder
from gateway.telephony.media_admission import NOT_ADMITTED, Refused, admit
from gateway.telephony.service import TELEPHONY, Telephony
from gateway.telephony.transfer_desk import TransferDesk
from gateway.telephony.transfer_line import TransferLine
from kinds.interruption import InterruptionSettings
from media import denoise
from providers.events import ToolCall

log = logging.getLogger(__name__)

MEDIA_ROUTE = "/telephony/{carrier}/media"
START_TIMEOUT_S = 10.0  # carriers send their start event at once; a silent socket is no carrier
# How long our close frame waits for the carrier's reply: aiohttp's 10 s, per socket, made a
# drain whose carrier never answered take 20 s to exit. Twilio answers at once when it does.
CLOSE_HANDSHAKE_S = 1.0


def _carrier_of(request: web.Request, telephony: Telephony) -> Carrier:
    """The registered carrier this socket is for, once its handshake proves it is that carrier."""
    carrier = telephony.carriers.get(request.match_info.get("carrier", ""))
    if carrier is None:
        raise NotFound("no such carrier")
    if carrier.handshake is None:
        raise Unavailable(f"telephony is not configured ({carrier.config_hint})")
    if not carrier.handshake(request.headers):
        log.warning("media socket refused: bad signature", extra={"carrier": carrier.name})
        raise Forbidden(f"invalid {carrier.title} signature")
    return carrier


async def media_stream(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    telephony = request.app[TELEPHONY]
    carrier = _carrier_of(request, telephony)
    # No ping heartbeat: aiohttp re-arms it on every message (about 4 % of a loaded gateway's
    # CPU), and a carrier's 50 frames a second already prove the peer alive; the bridge's
    # watchdog ends a call whose stream goes quiet.
    # A frame over the carrier's bound (64 KiB; real frames are a few hundred bytes) closes the
    # socket with 1009, as row 26 of the reliability table asks, rather than being ignored.
    ws = web.WebSocketResponse(
        max_msg_size=carrier.capabilities.max_frame_size, timeout=CLOSE_HANDSHAKE_S
    )
    await ws.prepare(request)
    bound_send_buffers(request.transport)
    reason = ""
    try:
        started = await _await_start(ws, carrier.decode)
        if started is None:
            await ws.close(code=NOT_ADMITTED.close_code, message=b"not admitted")
            return ws
        session = await admit(ctx, telephony, carrier, started)
        if isinstance(session, Refused):
            await ws.close(code=session.close_code, message=b"not admitted")
            return ws
        # A carrier that stops reading would block the agent's audio in our send buffers for
        # the rest of the call: cut it, and the bridge ends the call as a dropped line.
        async with dropping_stalled_peer(request.transport, functools.partial(_cut, request)):
            reason = await _run_call(ctx, telephony, ws, carrier, started, session)
    finally:
        if not ws.closed:
            # 1001 at a drain: the carrier then runs the <Connect action> URL, whose answer is
            # the apology or the assistant's transfer (CallService.after_stream).
            going_away = reason == "shutdown"
            code = WSCloseCode.GOING_AWAY if going_away else WSCloseCode.OK
            await ws.close(code=code, message=reason.encode()[:120] if going_away else b"")
    return ws


async def _cut(request: web.Request) -> None:
    log.warning("media socket dropped: the carrier stopped reading")
    if request.transport is not None:
        request.transport.abort()


async def _await_start(ws: web.WebSocketResponse, decode: Decoder) -> StreamStarted | None:
    """Skip what comes before it (``connected``); the stream's start, or None if it does not
    come in time."""
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


async def _run_call(
    ctx: GatewayContext,
    telephony: Telephony,
    ws: web.WebSocketResponse,
    carrier: Carrier,
    started: StreamStarted,
    session: Session,
) -> str:
    # The call's own format, as its start announced it (checked on admission).
    capabilities = carrier.capabilities.for_call(started.audio or carrier.capabilities.audio)
    bridge = CallBridge(ws, carrier.open_codec(started), capabilities)
    line = TransferLine(bridge, ctx.clock)  # the caller on hold while a warm transfer rings
    desk = TransferDesk(
        ctx, telephony, capabilities,
        call_sid=started.call_id, session=session, bridge=bridge, line=line,
    )  # fmt: skip
    bridge.set_tools(_call_tools(bridge, desk))
    metrics.CALLS_ACTIVE.inc()
    try:
        assistant = await ctx.store.assistants.get(session.assistant_id, include_deleted=True)
        assistant = await _with_call_overrides(ctx, started.call_id, assistant)
        bridge.configure_audio(
            interruption_settings(assistant.interruption if assistant else {}),
            noise_suppression=ctx.settings.call_noise_suppression and denoise.AVAILABLE,
        )
        call_sid = started.call_id
        with tracing.span("call", session_id=session.id, call_sid=call_sid, carrier=carrier.name):
            reason = await ctx.runner.run(session, line, line.read, assistant=assistant)
            tracing.annotate(outcome=reason)
        await desk.aclose()  # a transfer still ringing loses its caller: its leg is hung up
        await bridge.finish()
        if carrier.after_call is not None:
            await carrier.after_call(started, bridge.hung_up)
        log.info("call ended", extra={"session_id": session.id, "reason": reason})
        return reason
    finally:
        await desk.aclose()
        metrics.CALLS_ACTIVE.dec()


async def _with_call_overrides(
    ctx: GatewayContext, call_sid: str, assistant: Assistant | None
) -> Assistant | None:
    """The assistant as this call asked for it: an outbound call may replace its greeting and
    instructions (a detached copy; the stored assistant is unchanged)."""
    call = await ctx.store.calls.get_by_sid(call_sid)
    if assistant is None or call is None or not (call.greeting or call.instructions):
        return assistant
    fields = {c.key: getattr(assistant, c.key) for c in Assistant.__table__.columns}
    fields["greeting"] = call.greeting or assistant.greeting
    fields["instructions"] = call.instructions or assistant.instructions
    return Assistant(**fields)


def interruption_settings(stored: dict[str, Any]) -> InterruptionSettings:
    """An assistant's stored ``interruption`` (empty: the defaults) as the bridge's policy."""
    fields = InterruptionFields.model_validate(stored or {})
    return InterruptionSettings(
        min_speech_ms=fields.min_speech_ms,
        min_words=fields.min_words,
        backchannel_filter=fields.backchannel_filter == "on",
        resume_after_false_ms=fields.resume_after_false_ms,
    )


def _call_tools(bridge: CallBridge, desk: TransferDesk) -> dict[str, ToolAnswer]:
    """The phone's answers to the built-ins the session plan gives a call."""

    async def end_call(call: ToolCall) -> dict[str, Any]:
        await bridge.end_after_response("assistant_ended")
        return {"ok": True}

    return {"end_call": end_call, "transfer_call": desk.answer}
