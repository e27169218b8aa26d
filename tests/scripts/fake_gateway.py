"""A small stand-in for the gateway's Twilio side, for testing the call simulator over loopback.

It answers the voice webhook with the gateway's own TwiML builder, checks every signature with
``twilio.request_validator.RequestValidator`` (the media upgrade over its ``ws://`` URL with no
parameters), records what the simulator sends with arrival times, and lets a test script play
the gateway on the media socket: send agent audio, marks and ``clear``, and wait for messages.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from twilio.request_validator import RequestValidator

from gateway.telephony import twiml

AUTH_TOKEN = "test_auth_token"
PARAMETERS = {"session_id": "sess_123", "token": "kura_mt_abc"}
WAIT_TIMEOUT_S = 5.0  # safety net for a message that never comes, not a timer under test


@dataclass
class Received:
    """One message from the simulator and when it arrived (``time.monotonic()``)."""

    at: float
    message: dict[str, Any]

    @property
    def event(self) -> str:
        return str(self.message.get("event"))


class MediaPeer:
    """The gateway's end of one media socket, driven by a test script."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.received: list[Received] = []
        self._arrived = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def send_media(self, ulaw: bytes) -> None:
        payload = base64.b64encode(ulaw).decode("ascii")
        await self.send({"event": "media", "streamSid": "MZ1", "media": {"payload": payload}})

    async def send_mark(self, name: str) -> float:
        await self.send({"event": "mark", "streamSid": "MZ1", "mark": {"name": name}})
        return time.monotonic()

    async def send_clear(self) -> float:
        await self.send({"event": "clear", "streamSid": "MZ1"})
        return time.monotonic()

    async def wait_for(self, match: Callable[[Received], bool]) -> Received:
        """The first message (already received or to come) that ``match`` accepts."""
        async with asyncio.timeout(WAIT_TIMEOUT_S):
            seen = 0
            while True:
                for item in self.received[seen:]:
                    if match(item):
                        return item
                seen = len(self.received)
                self._arrived.clear()
                await self._arrived.wait()

    def of(self, event: str) -> list[Received]:
        return [r for r in self.received if r.event == event]

    async def read_all(self) -> None:
        async for message in self.ws:
            if message.type == WSMsgType.TEXT:
                self.received.append(Received(time.monotonic(), json.loads(message.data)))
                self._arrived.set()


Script = Callable[[MediaPeer], Coroutine[Any, Any, None]]


@dataclass
class FakeGateway:
    """The webhooks, media socket and ``/metrics`` of a gateway, on a loopback port."""

    script: Script | None = None
    auth_token: str = AUTH_TOKEN
    metrics_text: str = ""
    webhooks: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)
    upgrades: list[tuple[str | None, bool]] = field(default_factory=list)
    peers: list[MediaPeer] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def media_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/telephony/twilio/media"

    def _valid(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        return bool(RequestValidator(self.auth_token).validate(url, params, signature or ""))

    async def _webhook(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = self.url + request.path_qs
        valid = self._valid(url, form, request.headers.get("X-Twilio-Signature"))
        self.webhooks.append((request.path, form, valid))
        if not valid:
            return web.Response(status=403)
        if request.path.endswith("/voice"):
            document = twiml.connect_stream(
                self.media_url, self.url + "/telephony/twilio/action", PARAMETERS
            )
        else:
            document = twiml.say_and_hang_up(twiml.GOODBYE)
        return web.Response(text=document, content_type="text/xml")

    async def _media(self, request: web.Request) -> web.StreamResponse:
        signature = request.headers.get("X-Twilio-Signature")
        valid = self._valid(self.media_url, {}, signature)
        self.upgrades.append((signature, valid))
        if not valid:
            return web.Response(status=403)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        peer = MediaPeer(ws)
        self.peers.append(peer)
        async with asyncio.TaskGroup() as group:
            if self.script is not None:
                group.create_task(self.script(peer))
            await peer.read_all()
        return ws

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(text=self.metrics_text, content_type="text/plain")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeGateway]:
        app = web.Application()
        app.router.add_post("/telephony/twilio/voice", self._webhook)
        app.router.add_post("/telephony/twilio/action", self._webhook)
        app.router.add_get("/telephony/twilio/media", self._media)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        try:
            yield self
        finally:
            await runner.cleanup()
