"""One WebSocket connection to Gemini Live: open it, set it up, send, receive, classify its end.

aiohttp and OS errors are translated here, at the boundary, into ``providers.errors``. The API
key travels only in the ``x-goog-api-key`` header: URLs end up in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderProtocolError,
    ProviderQuotaError,
    ProviderUnavailable,
)
from providers.gemini_live.decode import SetupComplete, decode_message, parse_frame

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]

MAX_MESSAGE_BYTES = 1 << 20
"""Largest server frame accepted: ~16 s of base64 24 kHz audio; real chunks are far smaller."""

_CLOSE_TIMEOUT_S = 2.0
_REASON_CHARS = 120  # enough of a close reason to diagnose, not a wall of text in the logs


class ResumeRejected(ProviderProtocolError):
    """The server refused a session-resumption handle (close 1007): start a fresh session."""

    retryable = True


@dataclass(frozen=True, slots=True)
class ConnectSettings:
    """Where to connect; ``api_key`` is never logged nor put in a URL. How long an attempt may
    take, and how many there are, is the session's ``RetryPolicy``."""

    url: str
    api_key: str = field(repr=False)
    max_message_bytes: int = MAX_MESSAGE_BYTES


def error_for_close(code: int | None, reason: str, *, resumed: bool) -> ProviderError:
    """What a server close means: fatal (auth, quota, config, 1007/1008) or a lost connection."""
    text = reason.lower()
    detail = reason[:_REASON_CHARS]
    if "api key" in text or "permission" in text or "unauthenticated" in text:
        return ProviderAuthError(
            f"Gemini rejected the credentials: {detail}", code="invalid_api_key"
        )
    if "quota" in text or "resource_exhausted" in text or "rate limit" in text:
        return ProviderQuotaError(f"Gemini quota exhausted: {detail}", code="quota_exceeded")
    if code == 1007 and resumed:
        return ResumeRejected(f"Gemini refused to resume: {detail}", code="resume_rejected")
    if "not found" in text or "not supported" in text:
        return ProviderConfigError(f"Gemini model unavailable: {detail}", code="model_not_found")
    if code == 1007:
        return ProviderProtocolError(
            f"Gemini rejected the session: {detail}", code="invalid_argument"
        )
    if code == 1008:
        return ProviderProtocolError(f"Gemini closed on policy: {detail}", code="policy_violation")
    return ProviderUnavailable(f"Gemini closed the connection ({code})", code="connection_lost")


def error_for_status(status: int) -> ProviderError:
    """What an HTTP status on the WebSocket upgrade means."""
    if status in (401, 403):
        return ProviderAuthError("Gemini rejected the credentials", code="invalid_api_key")
    if status == 429:
        return ProviderQuotaError("Gemini quota exhausted", code="quota_exceeded")
    if status == 404:
        return ProviderConfigError("Gemini endpoint or model not found", code="not_found")
    if 400 <= status < 500:
        return ProviderConfigError(f"Gemini refused the connection ({status})", code="bad_request")
    return ProviderUnavailable(f"Gemini unavailable ({status})", code="connect_failed")


class LiveConnection:
    """An open, set-up Gemini Live socket. ``end_error`` says why it ended, once it has."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, resumed: bool) -> None:
        self.resumed = resumed
        self.end_error: ProviderError | None = None
        self._ws = ws
        self._send_lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def send(self, message: JsonObject | bytes) -> None:
        """Send one client message (or its JSON, already encoded); raises
        ``ProviderUnavailable`` if the socket is gone."""
        data = message if isinstance(message, bytes) else orjson.dumps(message)
        async with self._send_lock:
            try:
                await self._ws.send_frame(data, aiohttp.WSMsgType.TEXT)
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                raise ProviderUnavailable("Gemini connection lost", code="connection_lost") from exc

    async def messages(self) -> AsyncGenerator[JsonObject, None]:
        """Server messages until the socket ends; then ``end_error`` is set."""
        while True:
            frame = await self._ws.receive()
            if frame.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                try:
                    yield parse_frame(frame.data)
                except ProviderProtocolError:
                    log.warning("gemini.bad_frame")  # one bad frame must not end a call
                continue
            self._note_end(frame)
            return

    async def close(self, reason: ProviderError | None = None) -> None:
        """Close the socket (idempotent); ``reason`` becomes ``end_error`` if none is set yet."""
        if self.end_error is None and reason is not None:
            self.end_error = reason
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            await self._ws.close()

    def _note_end(self, frame: aiohttp.WSMessage) -> None:
        if self.end_error is not None:
            return
        if frame.type == aiohttp.WSMsgType.CLOSE:
            self.end_error = error_for_close(
                frame.data, str(frame.extra or ""), resumed=self.resumed
            )
        elif frame.type == aiohttp.WSMsgType.ERROR:
            self.end_error = ProviderUnavailable("Gemini connection failed", code="connection_lost")
        else:
            code = self._ws.close_code
            self.end_error = error_for_close(code, "", resumed=self.resumed)


async def open_connection(
    http: aiohttp.ClientSession, settings: ConnectSettings, setup: JsonObject
) -> LiveConnection:
    """Connect, send ``setup`` and wait for ``setupComplete`` (the caller bounds the time)."""
    resumed = bool(setup["setup"].get("sessionResumption", {}).get("handle"))
    try:
        ws = await http.ws_connect(
            settings.url,
            headers={"x-goog-api-key": settings.api_key},
            max_msg_size=settings.max_message_bytes,
            autoping=True,
            # A server that stopped answering must not hold our close for aiohttp's 10 s.
            timeout=aiohttp.ClientWSTimeout(ws_close=_CLOSE_TIMEOUT_S),
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise error_for_status(exc.status) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise ProviderUnavailable("Gemini is unreachable", code="connect_failed") from exc
    connection = LiveConnection(ws, resumed=resumed)
    try:
        await connection.send(setup)
        async for message in connection.messages():
            if any(isinstance(note, SetupComplete) for note in decode_message(message)):
                return connection
        raise connection.end_error or ProviderUnavailable("Gemini closed", code="connection_lost")
    except BaseException:
        await connection.close()
        raise
