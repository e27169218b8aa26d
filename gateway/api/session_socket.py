"""``GET /api/v1/sessions/{id}/connect``: the app's WebSocket, a client of the Conversation.

The credential in ``?api_key=`` is the session's single-use token (or a key with
``sessions:connect``); it is checked, and the session claimed, before the upgrade, so a refused
connection costs no provider. Outgoing messages go through a bounded queue so a client that
stops reading is dropped instead of stalling its provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.api.auth import bearer_token, has_permission
from gateway.api.origins import origin_policy
from gateway.api.sequence import MessageSequence, events_asked
from gateway.api.socket_backpressure import bound_send_buffers, dropping_stalled_peer
from gateway.context import GatewayContext, context_of
from gateway.errors import Forbidden, NotFound, Unauthorized
from gateway.sessions.conversation import Conversation
from gateway.sessions.plan import ClientTraits, SessionPlan
from gateway.sessions.port import (
    CallerAudio,
    CallerText,
    ClientEvent,
    Cue,
    EndSession,
    Interrupt,
)
from gateway.sessions.protocol import (
    AgentAudioChunk,
    AudioChunk,
    InterruptMessage,
    ProtocolError,
    ServerMessage,
    SessionError,
    StopSession,
    TextMessage,
    decode_pcm16,
    encode,
    encode_pcm16,
    parse_client_message,
)
from gateway.sessions.service import SESSION_TOKEN_PREFIX
from gateway.sessions.session_spec import overrides_of
from gateway.store.models import Session
from kinds.audio import PCM16_24K
from providers.events import ToolCall
from providers.spec import SessionMode

log = logging.getLogger(__name__)

OUTBOX_MESSAGES = 512  # ≈ 10 s of 20 ms audio chunks: a client further behind is not listening
SEND_TIMEOUT_S = 5.0
SHUTDOWN_CLOSE_WAIT_S = 0.5
"""Long enough to write the close frame; not the 10 s aiohttp would wait for a reply it drops."""
CLOSE_CODES = {
    "provider_error": WSCloseCode.INTERNAL_ERROR,
    "slow_client": WSCloseCode.POLICY_VIOLATION,
    "shutdown": WSCloseCode.GOING_AWAY,
}


APP_TRAITS = ClientTraits(audio=PCM16_24K, converts_audio=False, detects_turns=False)
"""An app speaks the Kura protocol's PCM16 24 kHz both ways, has no VAD (no message ends a
spoken turn) and answers no built-in tool."""


class AppSocketClient:
    """Delivers a conversation's output to one app WebSocket, in order, off the caller's path."""

    traits = APP_TRAITS

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        sequence: MessageSequence | None = None,
    ) -> None:
        self._ws = ws
        self._sequence = sequence or MessageSequence(turn_events=False)
        self._transport = transport
        self._outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_MESSAGES)
        self.broken_reason: str | None = None
        self.conversation: Conversation | None = None  # set by the reader, for ``_drop``
        self.mode: SessionMode = "voice"

    async def deliver(self, message: ServerMessage) -> None:
        if self._sequence.wanted(message):
            self._put(encode(message))

    async def deliver_audio(self, pcm16: bytes, item_id: str) -> None:
        self._put(encode(AgentAudioChunk(audio=encode_pcm16(pcm16))))

    async def caller_speech_started(self) -> bool:
        """Apps play audio themselves, so the Conversation interrupts the provider."""
        return False

    def session_planned(self, plan: SessionPlan) -> None:
        """The Kura protocol fixes the app's audio format; only the mode matters here."""
        self.mode = plan.mode

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        return {"error": f"tool {call.name!r} is not available"}  # the plan gives apps none

    async def play_cue(self, cue: Cue) -> float:
        """Apps draw their own waiting state (the Kura protocol has no message for a cue)."""
        del cue
        return 0.0

    def _put(self, text: str) -> None:
        if self.broken_reason is not None:
            return
        try:
            self._outbox.put_nowait(self._sequence.stamp(text))
        except asyncio.QueueFull:
            self._break("slow_client")

    def _break(self, reason: str) -> None:
        if self.broken_reason is None:
            self.broken_reason = reason
            log.warning("app socket dropped", extra={"reason": reason})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the writer for the duration of the block, then flush what is queued."""
        writer = asyncio.create_task(self._write(), name="app-socket-writer")
        try:
            async with dropping_stalled_peer(self._transport, self._stalled):
                yield
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._outbox.join(), SEND_TIMEOUT_S)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write(self) -> None:
        while self.broken_reason is None:
            text = await self._outbox.get()
            try:
                if self.broken_reason is None and not self._ws.closed:
                    await asyncio.wait_for(self._ws.send_str(text), SEND_TIMEOUT_S)
            except (TimeoutError, ConnectionError, RuntimeError):
                self._break("slow_client")
            finally:
                self._outbox.task_done()
        await self._drop()

    async def _stalled(self) -> None:
        """The client has taken none of our bytes for a while (``socket_backpressure``)."""
        self._break("slow_client")
        await self._drop()

    async def _drop(self) -> None:
        """Cut a client that stopped reading. No close frame: it would sit behind the bytes
        the client is not reading, and aiohttp's close handshake would wait on it; the reader
        sees the connection go and ends the session with the reason (``slow_client``)."""
        while not self._outbox.empty():
            self._outbox.get_nowait()
            self._outbox.task_done()
        if self.conversation is not None:
            # First: losing the connection cancels the handler, and the reason must be set.
            await self.conversation.receive(EndSession(self.broken_reason or "slow_client"))
        if self._transport is not None:
            self._transport.abort()


def decode_client_event(raw: str, mode: SessionMode) -> ClientEvent:
    """One text frame of the Kura protocol as a port event; ``ProtocolError`` names what is
    wrong (malformed JSON, an unknown type, audio in chat mode, bad base64, odd-length audio)."""
    match parse_client_message(raw):
        case AudioChunk(audio=audio):
            if mode == "chat":  # said before any base64 complaint: the audio is not wanted
                raise ProtocolError("audioChunk is not accepted in chat mode; send textMessage")
            return CallerAudio(decode_pcm16(audio))
        case TextMessage(text=text):
            return CallerText(text)
        case InterruptMessage(played_ms=played_ms):
            return Interrupt(played_ms)
        case StopSession():
            return EndSession("client_stop")


async def read_client(
    ws: web.WebSocketResponse, client: AppSocketClient, conversation: Conversation
) -> None:
    """Feed client frames to the conversation; bad input gets ``sessionError``, never a crash."""
    client.conversation = conversation
    async for frame in ws:
        if frame.type == WSMsgType.TEXT:
            try:
                await conversation.receive(decode_client_event(frame.data, client.mode))
            except ProtocolError as exc:
                await client.deliver(SessionError(error=str(exc)))
        elif frame.type == WSMsgType.BINARY:
            error = "binary frames are not accepted: send JSON text messages"
            await client.deliver(SessionError(error=error))
    await conversation.receive(EndSession(client.broken_reason or "client_disconnected"))


async def _authorize(request: web.Request, ctx: GatewayContext) -> Session:
    """Check the credential and return the session it may open (not yet claimed)."""
    credential = request.query.get("api_key") or bearer_token(request)
    if not credential:
        raise Unauthorized("missing credential: use the websocket_url returned at creation")
    row = await ctx.sessions.get(request.match_info["session_id"])
    await _check_origin(request, ctx, row)
    if credential.startswith(SESSION_TOKEN_PREFIX):
        # One answer for a wrong, spent or lapsed token, whatever the session's state: a
        # made-up token must not tell a pending session from a live or an ended one.
        if row.status != "pending" or not ctx.sessions.token_matches(row, credential):
            raise Unauthorized("invalid, spent or expired session token")
        return row
    key = await ctx.store.keys.find_by_secret(credential)
    if key is None:
        raise Unauthorized("invalid or revoked API key")
    if not has_permission(key, "sessions:connect"):
        raise Forbidden("this API key lacks the permission sessions:connect")
    if row.api_key_id != key.id and not has_permission(key, "sessions:write"):
        raise NotFound("no session with this id")
    return row


async def _check_origin(request: web.Request, ctx: GatewayContext, row: Session) -> None:
    """The REST rule (``gateway.api.origins``), for the key that created the session."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    key = await ctx.store.keys.get(row.api_key_id) if row.api_key_id is not None else None
    if not origin_policy(request).allows(origin, key):
        raise Forbidden(
            "this Origin may not open session WebSockets: list it in the creating key's "
            "allowed_origins or in KURA_ALLOWED_ORIGINS"
        )


async def connect_session(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    ctx.drain.refuse_new("connections")
    row = await ctx.sessions.claim(await _authorize(request, ctx))
    ws = web.WebSocketResponse(max_msg_size=ctx.settings.ws_max_message_bytes, heartbeat=30)
    await ws.prepare(request)
    bound_send_buffers(request.transport)
    turn_events = overrides_of(row).turn_events or "turns" in events_asked(
        request.query.get("events")
    )
    client = AppSocketClient(ws, request.transport, MessageSequence(turn_events=turn_events))
    reason = "internal_error"
    try:
        async with client.running():
            reader = functools.partial(read_client, ws, client)
            reason = await ctx.runner.run(row, client, reader)
    finally:
        code = CLOSE_CODES.get(reason, WSCloseCode.OK)
        closing = ws.close(code=code, message=reason.encode()[:120])
        if reason == "shutdown":
            # aiohttp stops reading every connection once shutdown begins, so the client's close
            # reply can never arrive: send our close frame, then drop the connection.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing, SHUTDOWN_CLOSE_WAIT_S)
        else:
            await closing
    return ws
