"""The carrier side of a Twilio Media Stream, with playout the test controls.

It keeps Twilio's queue semantics (protocols.md §1.5): outbound audio queues and "plays" only
when the test calls ``play(ms)``; a mark is echoed once the audio queued before it has played;
``clear`` drops the queue and echoes every pending mark at once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import deque
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law


_ENDED = (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


class FakeMediaStream:
    """One call's media socket, as Twilio would drive it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, call_sid: str) -> None:
        self.ws = ws
        self.call_sid = call_sid
        self.stream_sid = "MZ" + call_sid[2:]
        self.received_audio = bytearray()  # everything the gateway sent, in order
        self.clears: list[float] = []  # perf_counter() of each clear
        self.marks_received: list[str] = []
        self._queue: deque[tuple[str, Any]] = deque()  # ("audio", nbytes) | ("mark", name)
        self._sequence = 0
        self._chunk = 0
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.audio_arrived = asyncio.Condition()
        self.bytes_per_ms = 8  # µ-law 8 kHz; SignalWire's L16 at 24 kHz is 48

    @classmethod
    async def open(
        cls,
        http: aiohttp.ClientSession,
        gateway_url: str,
        stream_url: str,
        *,
        auth_token: str,
        call_sid: str,
        parameters: dict[str, str],
        signature: str | None = "auto",
        media_format: dict[str, Any] | None = None,
        autoclose: bool = True,
    ) -> FakeMediaStream:
        """Twilio's stream; SignalWire's with ``media_format`` (its L16 ``<Stream codec>``).
        ``autoclose=False``: never answer the gateway's close frame (a carrier gone deaf)."""
        headers = {}
        if signature == "auto":
            signature = RequestValidator(auth_token).compute_signature(stream_url, {})
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        path = "/" + stream_url.split("/", 3)[3]
        ws = await http.ws_connect(
            gateway_url.rstrip("/") + path, headers=headers, autoclose=autoclose
        )
        stream = cls(ws, call_sid)
        media_format = media_format or {
            "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1
        }  # fmt: skip
        if media_format["encoding"] == "audio/x-l16":
            stream.bytes_per_ms = media_format["sampleRate"] // 500
        await stream._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await stream._send_event(
            "start",
            start={
                "streamSid": stream.stream_sid,
                "accountSid": "AC" + "0" * 32,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": parameters,
                "mediaFormat": media_format,
            },
        )
        stream._reader = asyncio.create_task(stream._read())
        return stream

    # --- caller → gateway --------------------------------------------------------------------

    async def send_ulaw(self, ulaw: bytes) -> None:
        """Caller audio as 20 ms ``media`` frames (as fast as the socket takes them)."""
        await self.send_audio(ulaw)

    async def send_audio(self, audio: bytes) -> None:
        """Caller audio in the stream's format, as 20 ms ``media`` frames."""
        size = 20 * self.bytes_per_ms
        for start in range(0, len(audio) - size + 1, size):
            self._chunk += 1
            payload = base64.b64encode(audio[start : start + size]).decode()
            media = {
                "track": "inbound",
                "chunk": str(self._chunk),
                "timestamp": str(self._chunk * 20),
                "payload": payload,
            }
            await self._send_event("media", media=media)

    async def send_dtmf(self, digit: str) -> None:
        await self._send_event("dtmf", dtmf={"track": "inbound_track", "digit": digit})

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def stop(self) -> None:
        await self._send_event(
            "stop", stop={"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}
        )

    # --- playout -----------------------------------------------------------------------------

    @property
    def queued_ms(self) -> int:
        return sum(n for kind, n in self._queue if kind == "audio") // self.bytes_per_ms

    async def play(self, ms: int) -> None:
        """Let ``ms`` of queued audio play, echoing the marks it passes."""
        budget = ms * self.bytes_per_ms
        while self._queue:
            kind, value = self._queue[0]
            if kind == "mark":
                self._queue.popleft()
                await self._send_event("mark", mark={"name": value})
                continue
            if budget <= 0:
                return
            used = min(budget, value)
            budget -= used
            if used == value:
                self._queue.popleft()
            else:
                self._queue[0] = ("audio", value - used)

    async def wait_for_audio(self, total_bytes: int, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s), self.audio_arrived:
            await self.audio_arrived.wait_for(lambda: len(self.received_audio) >= total_bytes)

    async def wait_closed(self, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            await self.closed.wait()

    async def aclose(self) -> None:
        if not self.ws.closed:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    # --- internals ---------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.ws.receive()
                if frame.type == aiohttp.WSMsgType.TEXT:
                    await self._on_message(json.loads(frame.data))
                elif frame.type == aiohttp.WSMsgType.CLOSE:
                    self.close_code = frame.data  # seen even when we never answer it
                    return
                elif frame.type in _ENDED:
                    return
        finally:
            self.closed.set()

    async def _on_message(self, message: dict[str, Any]) -> None:
        assert message.get("streamSid") == self.stream_sid, message
        event = message["event"]
        if event == "media":
            audio = base64.b64decode(message["media"]["payload"], validate=True)
            self._queue.append(("audio", len(audio)))
            async with self.audio_arrived:
                self.received_audio += audio
                self.audio_arrived.notify_all()
        elif event == "mark":
            self.marks_received.append(message["mark"]["name"])
            self._queue.append(("mark", message["mark"]["name"]))
            if self.queued_ms == 0:
                await self.play(0)  # Twilio echoes at once when nothing is queued before it
        elif event == "clear":
            self.clears.append(time.perf_counter())
            pending = [value for kind, value in self._queue if kind == "mark"]
            self._queue.clear()
            for name in pending:
                await self._send_event("mark", mark={"name": name})
        else:
            raise AssertionError(f"Twilio accepts only media, mark and clear, got {event!r}")

    async def _send_event(self, event: str, **body: Any) -> None:
        self._sequence += 1
        await self._send(
            {"event": event, "sequenceNumber": str(self._sequence), "streamSid": self.stream_sid}
            | body
        )

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))
