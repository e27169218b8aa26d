"""The carrier side of a Telnyx media stream (RTP bidirectional mode), playout under test control.

Telnyx's frames are snake_case (``stream_id``, ``sequence_number``, ``start.call_control_id``,
``start.media_format``, ``media.chunk``); it takes ``media``, ``mark`` and ``clear`` back with no
stream id, and its marks and clear behave as Twilio's (echoed once played, at once when nothing
is queued, all pending ones on clear). The upgrade carries no signature. Queue semantics and
``play(ms)`` are the Twilio fake's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import aiohttp

from tests.fakes.twilio_media import FRAME_BYTES, FakeMediaStream


class FakeTelnyxStream(FakeMediaStream):
    """One call's media socket, as Telnyx would drive it."""

    encoding = "PCMU"

    @classmethod
    async def dial(
        cls,
        http: aiohttp.ClientSession,
        gateway_url: str,
        stream_url: str,
        *,
        call_sid: str,
        parameters: dict[str, str],
        encoding: str = "PCMU",
        sample_rate: int = 8000,
    ) -> FakeTelnyxStream:
        path = "/" + stream_url.split("/", 3)[3]
        ws = await http.ws_connect(gateway_url.rstrip("/") + path)
        stream = cls(ws, call_sid)
        stream.stream_sid = "32DE0DEA-" + call_sid[-12:]
        stream.bytes_per_ms = sample_rate // 500 if encoding == "L16" else 8
        await stream._send({"event": "connected", "version": "1.0.0"})
        await stream._send_event(
            "start",
            start={
                "user_id": "3e6f995f-85f7-4705-9741-53b116d28237",
                "call_control_id": call_sid,
                "client_state": "",
                "from": "+15550001111",
                "to": "+445550002222",
                "custom_parameters": parameters,
                "media_format": {"encoding": encoding, "sample_rate": sample_rate, "channels": 1},
            },
        )
        stream._reader = asyncio.create_task(stream._read())
        return stream

    def media_frame(self, chunk: int, payload: bytes) -> str:
        """A ``media`` frame as Telnyx sends it (for tests that shuffle or repeat frames)."""
        self._sequence += 1
        return json.dumps({
            "event": "media", "sequence_number": str(self._sequence), "stream_id": self.stream_sid,
            "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 20),
                      "payload": base64.b64encode(payload).decode()},
        })  # fmt: skip

    async def send_ulaw(self, ulaw: bytes) -> None:
        for start in range(0, len(ulaw) - FRAME_BYTES + 1, FRAME_BYTES):
            self._chunk += 1
            await self.ws.send_str(self.media_frame(self._chunk, ulaw[start : start + FRAME_BYTES]))

    async def send_audio(self, audio: bytes) -> None:
        """Caller audio in the stream's format (L16: network byte order) as 20 ms frames."""
        size = 20 * self.bytes_per_ms
        for start in range(0, len(audio) - size + 1, size):
            self._chunk += 1
            await self.ws.send_str(self.media_frame(self._chunk, audio[start : start + size]))

    async def send_dtmf(self, digit: str) -> None:
        await self._send_event("dtmf", occurred_at="2026-01-01T00:00:00Z", dtmf={"digit": digit})

    async def stop(self) -> None:
        await self._send_event("stop", stop={"call_control_id": self.call_sid})

    async def _on_message(self, message: dict[str, Any]) -> None:
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
                await self.play(0)
        elif event == "clear":
            self.clears.append(time.perf_counter())
            pending = [value for kind, value in self._queue if kind == "mark"]
            self._queue.clear()
            for name in pending:
                await self._send_event("mark", mark={"name": name})
        else:
            raise AssertionError(f"Telnyx takes media, mark and clear, got {event!r}")

    async def _send_event(self, event: str, **body: Any) -> None:
        self._sequence += 1
        await self._send(
            {"event": event, "sequence_number": str(self._sequence), "stream_id": self.stream_sid}
            | body
        )
