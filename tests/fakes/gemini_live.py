"""A fake Gemini Live server: real BidiGenerateContent WebSocket protocol over loopback.

Plain ``ws://`` (our provider takes the URL, so no TLS is needed). Every client message is
recorded and validated against google-genai's own pydantic types; ``validation_errors``
collects failures (the real server would close with 1007). Tests script each connection:

    conn = await fake.next_connection()      # setupComplete is answered automatically
    msg = await conn.receive("realtimeInput")
    await conn.send({"serverContent": {"turnComplete": True}})
    await conn.close(1011, "Deadline expired")
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from google.genai import types
from pydantic import ValidationError

JsonObject = dict[str, Any]

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"

# The real server accepts proto3 JSON in either case; the SDK itself mixes them.
_TOP_KEYS = {
    "setup": "setup",
    "clientContent": "clientContent",
    "client_content": "clientContent",
    "realtimeInput": "realtimeInput",
    "realtime_input": "realtimeInput",
    "toolResponse": "toolResponse",
    "tool_response": "toolResponse",
    "contextUpdate": "contextUpdate",
    "context_update": "contextUpdate",
}


def message_kind(message: JsonObject) -> str:
    """The camelCase top-level key of a client message."""
    (key,) = message.keys()
    return _TOP_KEYS.get(key, key)


def body(message: JsonObject) -> Any:
    """The value under a client message's single top-level key."""
    (value,) = message.values()
    return value


def validate_client_message(message: JsonObject) -> None:
    """Validate with google-genai's types (raises on any unknown or malformed field).

    google-genai 3.4.0 lacks ``setup.realtimeInputConfig`` (protocols.md §5.2): pop it and
    validate it separately with ``types.RealtimeInputConfig``.
    """
    message = copy.deepcopy(message)
    if len(message) != 1:
        raise ValueError(f"a client message has exactly one top-level key, got {list(message)}")
    setup = message.get("setup")
    if isinstance(setup, dict):
        for key in ("realtimeInputConfig", "realtime_input_config"):
            if key in setup:
                types.RealtimeInputConfig.model_validate(setup.pop(key))
    types.LiveClientMessage.model_validate(message)


class FakeConnection:
    """One accepted client socket, driven by the test."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.headers = request.headers
        self.query = request.query
        self.path = request.path
        self.received: list[JsonObject] = []
        self.setup: JsonObject | None = None
        self._inbox: asyncio.Queue[JsonObject] = asyncio.Queue()
        self.closed = asyncio.Event()

    @property
    def resume_handle(self) -> str | None:
        assert self.setup is not None
        resumption = self.setup.get("sessionResumption") or {}
        handle: str | None = resumption.get("handle")
        return handle

    async def receive(self, kind: str | None = None, timeout_s: float = 5.0) -> JsonObject:
        """The next client message (of ``kind``, skipping others) in arrival order."""
        async with asyncio.timeout(timeout_s):
            while True:
                message = await self._inbox.get()
                if kind is None or message_kind(message) == kind:
                    return message

    def of_kind(self, kind: str) -> list[JsonObject]:
        return [m for m in self.received if message_kind(m) == kind]

    def audio_received(self) -> bytes:
        """All caller audio received so far, decoded."""
        chunks = []
        for message in self.of_kind("realtimeInput"):
            audio = body(message).get("audio")
            if audio:
                chunks.append(base64.b64decode(audio["data"]))
        return b"".join(chunks)

    async def send(self, message: JsonObject, *, binary: bool = False) -> None:
        text = json.dumps(message)
        if binary:
            await self.ws.send_bytes(text.encode())
        else:
            await self.ws.send_str(text)

    async def send_content(self, **content: Any) -> None:
        await self.send({"serverContent": content})

    async def send_audio(self, pcm16: bytes, *, binary_frame: bool = False) -> None:
        part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": _b64(pcm16)}}
        await self.send({"serverContent": {"modelTurn": {"parts": [part]}}}, binary=binary_frame)

    async def send_handle(self, handle: str, *, resumable: bool = True) -> None:
        await self.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": resumable}})

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        await self.ws.close(code=code, message=reason.encode())

    async def wait_closed(self, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            await self.closed.wait()

    def _record(self, message: JsonObject) -> None:
        self.received.append(message)
        if message_kind(message) == "setup":
            self.setup = body(message)
        self._inbox.put_nowait(message)


class FakeGeminiLive:
    """The server: accepts sockets on ``url``; ``http_status`` makes upgrades fail instead."""

    def __init__(self) -> None:
        self.connections: list[FakeConnection] = []
        self.validation_errors: list[str] = []
        self.auto_setup_complete = True
        self.http_status: int | None = None
        self.handshakes = 0
        self._accepted: asyncio.Queue[FakeConnection] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}{PATH}"

    async def stop(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()

    async def next_connection(self, timeout_s: float = 5.0) -> FakeConnection:
        """The next accepted socket, once its ``setup`` has arrived."""
        async with asyncio.timeout(timeout_s):
            conn = await self._accepted.get()
            await conn.receive("setup")  # the first message; later receives start after it
            return conn

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.handshakes += 1
        if self.http_status is not None:
            return web.json_response({"error": {"code": self.http_status}}, status=self.http_status)
        ws = web.WebSocketResponse(max_msg_size=4 << 20)
        await ws.prepare(request)
        conn = FakeConnection(ws, request)
        self.connections.append(conn)
        self._accepted.put_nowait(conn)
        try:
            async for frame in ws:
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_message(conn, json.loads(frame.data))
        finally:
            conn.closed.set()
        return ws

    async def _on_message(self, conn: FakeConnection, message: JsonObject) -> None:
        try:
            validate_client_message(message)
        except (ValidationError, ValueError) as exc:
            self.validation_errors.append(f"{list(message)}: {exc}")
            await conn.close(1007, "Request contains an invalid argument.")
            return
        first = not conn.received
        conn._record(message)
        if first and message_kind(message) != "setup":
            self.validation_errors.append("setup must be the first message")
        if first and self.auto_setup_complete and message_kind(message) == "setup":
            await conn.send({"setupComplete": {}})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
