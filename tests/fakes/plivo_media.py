"""The carrier side of a Plivo Audio Stream (bidirectional, µ-law), playout under test control.

Plivo's frames are camelCase (``start.callId``, ``start.streamId``, ``start.mediaFormat``, a
top-level ``extra_headers`` string); it takes ``playAudio``, ``checkpoint`` and ``clearAudio``.
A checkpoint is echoed as ``playedStream`` once the audio queued before it has played (at once
if nothing is queued); ``clearAudio`` drops the queued audio *and the checkpoints queued with it,
never echoing them*, and answers ``clearedAudio``. The upgrade carries no signature.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import aiohttp

from tests.fakes.twilio_media import FakeMediaStream


class FakePlivoStream(FakeMediaStream):
    """One call's media socket, as Plivo would drive it."""

    played_event = "playedStream"  # a support article's "played" is accepted as well

    @classmethod
    async def dial(
        cls,
        http: aiohttp.ClientSession,
        gateway_url: str,
        stream_url: str,
        *,
        call_uuid: str,
        extra_headers: str,
        encoding: str = "audio/x-mulaw",
    ) -> FakePlivoStream:
        path = "/" + stream_url.split("/", 3)[3]
        ws = await http.ws_connect(gateway_url.rstrip("/") + path)
        stream = cls(ws, call_uuid)
        stream.stream_sid = "20170ada-f610-433b-8758-" + call_uuid[-12:]
        await stream._send({
            "event": "start", "sequenceNumber": 0,
            "start": {"callId": call_uuid, "streamId": stream.stream_sid,
                      "accountId": "MA000000000000000000", "tracks": ["inbound"],
                      "mediaFormat": {"encoding": encoding, "sampleRate": 8000}},
            "extra_headers": extra_headers,
        })  # fmt: skip
        stream._reader = asyncio.create_task(stream._read())
        return stream

    async def send_ulaw(self, ulaw: bytes) -> None:
        for start in range(0, len(ulaw) - 160 + 1, 160):
            self._chunk += 1
            media = {"track": "inbound", "timestamp": str(self._chunk * 20), "chunk": self._chunk,
                     "payload": base64.b64encode(ulaw[start : start + 160]).decode()}  # fmt: skip
            await self._send_event("media", media=media)

    async def send_dtmf(self, digit: str) -> None:
        await self._send_event("dtmf", dtmf={"track": "inbound", "digit": digit, "timestamp": "0"})

    async def stop(self) -> None:
        await self._send_event("stop")

    async def play(self, ms: int) -> None:
        """Let ``ms`` of queued audio play, echoing the checkpoints it passes."""
        budget = ms * 8
        while self._queue:
            kind, value = self._queue[0]
            if kind == "mark":
                self._queue.popleft()
                await self._send_event(self.played_event, name=value)
                continue
            if budget <= 0:
                return
            used = min(budget, value)
            budget -= used
            if used == value:
                self._queue.popleft()
            else:
                self._queue[0] = ("audio", value - used)

    async def _on_message(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event == "playAudio":
            media = message["media"]
            assert (media["contentType"], media["sampleRate"]) == ("audio/x-mulaw", 8000)
            audio = base64.b64decode(media["payload"], validate=True)
            self._queue.append(("audio", len(audio)))
            async with self.audio_arrived:
                self.received_audio += audio
                self.audio_arrived.notify_all()
        elif event == "checkpoint":
            assert message["streamId"] == self.stream_sid
            self.marks_received.append(message["name"])
            self._queue.append(("mark", message["name"]))
            if self.queued_ms == 0:
                await self.play(0)
        elif event == "clearAudio":
            assert message["streamId"] == self.stream_sid
            self.clears.append(time.perf_counter())
            self._queue.clear()  # checkpoints included: Plivo never echoes them
            await self._send_event("clearedAudio")
        else:
            raise AssertionError(f"Plivo takes playAudio, checkpoint and clearAudio: {event!r}")

    async def _send_event(self, event: str, **body: Any) -> None:
        self._sequence += 1
        head = {"event": event, "sequenceNumber": self._sequence, "streamId": self.stream_sid}
        await self.ws.send_str(json.dumps(head | body))
