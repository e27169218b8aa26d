"""The carrier side of a Vonage Voice websocket, playout under test control.

Vonage sends ``websocket:connected`` (the NCCO's ``content-type`` and ``headers`` merged in) as
its first, text, message; then caller audio as binary L16 frames of 20 ms; DTMF as text
``websocket:dtmf``. It takes binary L16 frames back, and ``notify`` (echoed as
``websocket:notify`` with the same payload once the audio queued before it has played) and
``clear`` (drops the queue, answers ``websocket:cleared``; notifies queued before it are
dropped too, never echoed). The upgrade carries no signature. ``play(ms)`` is the Twilio fake's.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from tests.fakes.twilio_media import FakeMediaStream


class FakeVonageStream(FakeMediaStream):
    """One call's websocket, as Vonage would drive it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, call_uuid: str, rate_hz: int) -> None:
        super().__init__(ws, call_uuid)
        self.rate_hz = rate_hz
        self.bytes_per_ms = rate_hz // 500
        self.frame_bytes = rate_hz // 50 * 2  # 20 ms of 16-bit samples
        self.notify_payloads: list[Any] = []
        self.binary_frame_sizes: set[int] = set()
        self.text_in = 0

    @classmethod
    async def dial(
        cls,
        http: aiohttp.ClientSession,
        gateway_url: str,
        endpoint: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
    ) -> FakeVonageStream:
        """Open the NCCO's websocket ``endpoint`` and send ``websocket:connected``."""
        uri = str(endpoint["uri"])
        path = "/" + uri.split("/", 3)[3]
        ws = await http.ws_connect(gateway_url.rstrip("/") + path)
        content_type = str(endpoint["content-type"])
        sent = dict(endpoint["headers"]) if headers is None else headers
        stream = cls(ws, sent.get("call_uuid", ""), int(content_type.rsplit("=", 1)[1]))
        await stream._send({"event": "websocket:connected", "content-type": content_type} | sent)
        stream._reader = asyncio.create_task(stream._read())
        return stream

    # --- caller → gateway --------------------------------------------------------------------

    async def send_pcm(self, pcm: bytes) -> None:
        """Caller audio as 20 ms binary frames (as fast as the socket takes them)."""
        size = self.frame_bytes
        for start in range(0, len(pcm) - size + 1, size):
            await self.ws.send_bytes(pcm[start : start + size])

    async def send_dtmf(self, digit: str) -> None:
        await self._send({"event": "websocket:dtmf", "digit": digit, "duration": 260})

    async def stop(self) -> None:
        """Vonage has no stop message: the caller hanging up closes the socket."""
        await self.ws.close()

    # --- playout -----------------------------------------------------------------------------

    @property
    def queued_ms(self) -> int:
        return sum(n for kind, n in self._queue if kind == "audio") // self.bytes_per_ms

    async def play(self, ms: int) -> None:
        """Let ``ms`` of queued audio play, echoing the notifies it passes."""
        budget = ms * self.bytes_per_ms
        while self._queue:
            kind, value = self._queue[0]
            if kind == "mark":
                self._queue.popleft()
                await self._send({"event": "websocket:notify", "payload": value})
                continue
            if budget <= 0:
                return
            used = min(budget, value)
            budget -= used
            if used == value:
                self._queue.popleft()
            else:
                self._queue[0] = ("audio", value - used)

    # --- internals ---------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type == aiohttp.WSMsgType.BINARY:
                    await self._on_audio(frame.data)
                elif frame.type == aiohttp.WSMsgType.TEXT:
                    self.text_in += 1
                    await self._on_message(json.loads(frame.data))
        finally:
            self.closed.set()

    async def _on_audio(self, audio: bytes) -> None:
        self.binary_frame_sizes.add(len(audio))
        self._queue.append(("audio", len(audio)))
        async with self.audio_arrived:
            self.received_audio += audio
            self.audio_arrived.notify_all()

    async def _on_message(self, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == "notify":
            payload = message["payload"]
            self.notify_payloads.append(payload)
            self.marks_received.append(payload["mark"])
            self._queue.append(("mark", payload))
            if self.queued_ms == 0:
                await self.play(0)
        elif action == "clear":
            self.clears.append(time.perf_counter())
            self._queue.clear()
            await self._send({"event": "websocket:cleared"})
        else:
            raise AssertionError(f"Vonage takes notify and clear as text, got {message!r}")
