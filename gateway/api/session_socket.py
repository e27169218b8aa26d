"""The app's WebSocket (``GET /api/v1/sessions/{id}/connect``): its writer, reader and checks.

The credential in ``?api_key=`` is the session's single-use token (or a key with
``sessions:connect``); it is checked, and the session claimed, before the upgrade, so a refused
connection costs no provider. Outgoing messages go through a bounded queue so a client that
stops reading is dropped instead of stalling its provider. The handler is in
``gateway.api.session_connect``; the session the socket plugs into, in ``gateway.api.app_session``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.api.app_audio import DEFAULT_APP_AUDIO, AppAudioCodec, app_traits
from gateway.api.auth import bearer_token, has_permission
from gateway.api.origins import origin_policy
from gateway.api.socket_backpressure import dropping_stalled_peer
from gateway.context import GatewayContext
from gateway.errors import Forbidden, NotFound, Unauthorized
from gateway.sessions.conversation import Conversation
from gateway.sessions.port import (
    CallerAudio,
    CallerText,
    ClientEvent,
    EndSession,
    Interrupt,
)
from gateway.sessions.protocol import (
    AudioChunk,
    InterruptMessage,
    ProtocolError,
    ServerMessage,
    SessionError,
    StopSession,
    TextMessage,
    parse_client_message,
)
from gateway.sessions.service import SESSION_TOKEN_PREFIX
from gateway.store.models import Session
from providers.spec import SessionMode

log = logging.getLogger(__name__)

OUTBOX_MESSAGES = 512  # ≈ 10 s of 20 ms audio chunks: a client further behind is not listening
SEND_TIMEOUT_S = 5.0
SHUTDOWN_CLOSE_WAIT_S = 0.5
"""Long enough to write the close frame; not the 10 s aiohttp would wait for a reply it drops."""
RESUME_RACE_CLOSE = 4409
"""Close code of a resume that passed its checks but lost a race after the upgrade (another
socket resumed first, or the messages to replay were dropped meanwhile)."""
CLOSE_CODES = {
    "provider_error": WSCloseCode.INTERNAL_ERROR,
    "slow_client": WSCloseCode.POLICY_VIOLATION,
    "shutdown": WSCloseCode.GOING_AWAY,
}


APP_TRAITS = app_traits(DEFAULT_APP_AUDIO)
"""An app that chose no format: the Kura protocol's PCM16 24 kHz both ways."""
DEFAULT_CODEC = AppAudioCodec(DEFAULT_APP_AUDIO)


class AppSocketClient:
    """Writes one app WebSocket's share of a session's messages (already numbered by its
    ``AppSession``), in order, off the caller's path. The session outlives it: a socket that
    drops is replaced by the one that resumes (``gateway.api.app_session``)."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self.ws = ws
        self._transport = transport
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._limit = OUTBOX_MESSAGES
        self.broken_reason: str | None = None
        self.on_broken: Callable[[str], Awaitable[None]] | None = None
        """Told (first) when the client stopped reading, before the connection is cut."""
        self.finished: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        """The session's end reason once it ends, or None when this socket is no longer the
        session's (it dropped): what the handler waits for before closing."""

    def replay(self, texts: list[str]) -> None:
        """Queue what the client missed ahead of the live stream; the outbox has room for it
        on top of its usual bound."""
        self._limit = OUTBOX_MESSAGES + len(texts)
        for text in texts:
            self._outbox.put_nowait(text)

    def put(self, text: str) -> None:
        if self.broken_reason is not None:
            return
        if self._outbox.qsize() >= self._limit:
            self._break("slow_client")
        else:
            self._outbox.put_nowait(text)

    def finish(self, reason: str | None) -> None:
        if not self.finished.done():
            self.finished.set_result(reason)

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
                if self.broken_reason is None and not self.ws.closed:
                    await asyncio.wait_for(self.ws.send_str(text), SEND_TIMEOUT_S)
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
        sees the connection go (and the session ends with ``slow_client``, or waits for a
        resume)."""
        while not self._outbox.empty():
            self._outbox.get_nowait()
            self._outbox.task_done()
        if self.on_broken is not None:
            await self.on_broken(self.broken_reason or "slow_client")
        if self._transport is not None:
            self._transport.abort()


def decode_client_event(
    raw: str, mode: SessionMode, audio_codec: AppAudioCodec = DEFAULT_CODEC
) -> ClientEvent:
    """One text frame of the Kura protocol as a port event; ``ProtocolError`` names what is
    wrong (malformed JSON, an unknown type, audio in chat mode, bad base64, split samples)."""
    match parse_client_message(raw):
        case AudioChunk(audio=audio):
            if mode == "chat":  # said before any base64 complaint: the audio is not wanted
                raise ProtocolError("audioChunk is not accepted in chat mode; send textMessage")
            return CallerAudio(audio_codec.decode(audio))
        case TextMessage(text=text):
            return CallerText(text)
        case InterruptMessage(played_ms=played_ms):
            return Interrupt(played_ms)
        case StopSession():
            return EndSession("client_stop")


class SocketReader(Protocol):
    """Where ``read_client`` sends refusals: the session, which numbers them."""

    mode: SessionMode
    audio: AppAudioCodec

    async def deliver(self, message: ServerMessage) -> None: ...


async def read_client(
    ws: web.WebSocketResponse, session: SocketReader, conversation: Conversation
) -> None:
    """Feed client frames to the conversation until the socket ends; bad input gets
    ``sessionError``, never a crash."""
    async for frame in ws:
        if frame.type == WSMsgType.TEXT:
            try:
                event = decode_client_event(frame.data, session.mode, session.audio)
                await conversation.receive(event)
            except ProtocolError as exc:
                await session.deliver(SessionError(error=str(exc)))
        elif frame.type == WSMsgType.BINARY:
            error = "binary frames are not accepted: send JSON text messages"
            await session.deliver(SessionError(error=error))


async def authorize_connect(request: web.Request, ctx: GatewayContext) -> Session:
    """Check the credential and return the session it may open (not yet claimed)."""
    credential = request.query.get("api_key") or bearer_token(request)
    if not credential:
        raise Unauthorized("missing credential: use the websocket_url returned at creation")
    row = await ctx.sessions.get(request.match_info["session_id"])
    await check_origin(request, ctx, row)
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


async def check_origin(request: web.Request, ctx: GatewayContext, row: Session) -> None:
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
