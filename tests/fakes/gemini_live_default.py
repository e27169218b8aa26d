"""A self-running fake Gemini Live for load tests and manual runs: a tiny, thinking Gemini.

    python -m tests.fakes.gemini_live_default --port 9200

It speaks BidiGenerateContent as ``tests/fakes/gemini_live.py`` does (the same path, the key in
the ``x-goog-api-key`` header, ``setupComplete`` after ``setup``) but answers by itself, like the
fake OpenAI Realtime's default script and with its think time and reply length: it finds the
caller's turns in the 16 kHz audio with an energy VAD (or takes ``activityStart`` and
``activityEnd`` when the setup disables automatic activity detection) and, ``REPLY_DELAY_S``
after each turn, typed text or greeting request, speaks ``REPLY_AUDIO_MS`` of 24 kHz audio with
its transcription, then ``generationComplete`` and ``turnComplete`` (protocols.md §4.4). Speech
over a reply that is still thinking cancels it: ``interrupted``, then ``turnComplete``.

Unlike the scripted fake it records nothing (a load test sends millions of frames) and checks
each connection's first message of every shape against google-genai's types, not every frame
of audio; a message that fails closes the socket with 1007, as the real server does. It is
cheap in the load generator's way: the reply's audio parts are base64-encoded once per
process, JSON goes through orjson, and every connection's think time waits on one timer
(``tests.fakes.reply_timer``). On SIGTERM it prints its CPU time (``CPU_LINE``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from aiohttp import WSMsgType, web
from pydantic import ValidationError

from tests.fakes.fake_cpu import serve_until_stopped
from tests.fakes.gemini_live import PATH, body, message_kind, validate_client_message
from tests.fakes.openai_realtime_default import REPLY_AUDIO_MS, REPLY_DELAY_S, SPEECH_LEVEL
from tests.fakes.reply_timer import PendingReply, ReplyTimer

JsonObject = dict[str, Any]

BANNER = "fake Gemini Live on "
CPU_LINE = "fake Gemini Live CPU "
"""Starts the line printed at exit: ``<user+sys> s over <wall> s (<pct> % of a core)``."""
INPUT_BYTES_PER_MS = 32  # PCM16 at 16 kHz, what the gateway sends (wire.INPUT_SAMPLE_RATE_HZ)
OUTPUT_BYTES_PER_MS = 48  # PCM16 at 24 kHz, what Gemini speaks
REPLY_CHUNKS = 5  # as many audio deltas per reply as the OpenAI fake sends
REPLY_WORDS = "Thanks, I heard you."
DEFAULT_SILENCE_MS = 500  # the server's own default when the setup gives none


def reply_audio(duration_ms: int) -> bytes:
    """A quiet 444 Hz square wave, PCM16 24 kHz: what the OpenAI fake speaks, too."""
    period = (3000).to_bytes(2, "little", signed=True) * 27
    period += (-3000).to_bytes(2, "little", signed=True) * 27
    size = duration_ms * OUTPUT_BYTES_PER_MS
    return (period * (size // len(period) + 1))[:size]


@functools.cache
def reply_parts() -> tuple[str, ...]:
    """The reply's audio as ``REPLY_CHUNKS`` base64 parts, encoded once per process."""
    audio, chunks = reply_audio(REPLY_AUDIO_MS), REPLY_CHUNKS
    pieces = [
        audio[len(audio) * n // chunks : len(audio) * (n + 1) // chunks] for n in range(chunks)
    ]
    return tuple(base64.b64encode(piece).decode("ascii") for piece in pieces)


class EnergyTurns:
    """The caller's turns from 16 kHz PCM16: speech starts on the first loud chunk and ends
    after ``silence_ms`` of quiet ones (loud: mean absolute sample above ``SPEECH_LEVEL``)."""

    def __init__(self, silence_ms: int) -> None:
        self.silence_ms = silence_ms
        self.speaking = False
        self.quiet_ms = 0.0

    def feed(self, pcm16: bytes) -> str | None:
        """``"started"``, ``"stopped"`` or None for one chunk."""
        samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], "<i2")
        if samples.size and float(np.abs(samples, dtype=np.int32).mean()) > SPEECH_LEVEL:
            self.quiet_ms = 0.0
            if not self.speaking:
                self.speaking = True
                return "started"
            return None
        if self.speaking:
            self.quiet_ms += len(pcm16) / INPUT_BYTES_PER_MS
            if self.quiet_ms >= self.silence_ms:
                self.speaking = False
                return "stopped"
        return None


class LiveBehaviour:
    """One connection's state: the setup, the caller's turns and the one reply it owns."""

    def __init__(self, ws: web.WebSocketResponse, reply_delay_s: float, timer: ReplyTimer) -> None:
        self.ws = ws
        self.reply_delay_s = reply_delay_s
        self.timer = timer
        self.turns: EnergyTurns | None = None  # None: the client sends activity signals
        self.text_mode = False
        self.reply: PendingReply | None = None
        """The reply thinking on the server's one timer; it speaks all at once when due."""
        self.handles = 0

    async def send(self, message: JsonObject) -> None:
        await self.ws.send_frame(orjson.dumps(message), WSMsgType.TEXT)

    async def on_message(self, message: JsonObject) -> None:
        handlers = {
            "setup": self._on_setup,
            "realtimeInput": self._on_realtime_input,
            "clientContent": self._on_client_content,
        }
        handler = handlers.get(message_kind(message))
        if handler is not None:
            await handler(body(message))

    async def _on_setup(self, setup: JsonObject) -> None:
        generation = setup.get("generationConfig") or {}
        self.text_mode = generation.get("responseModalities") == ["TEXT"]
        detection = (setup.get("realtimeInputConfig") or {}).get("automaticActivityDetection")
        detection = detection or {}
        if not detection.get("disabled"):
            self.turns = EnergyTurns(int(detection.get("silenceDurationMs") or DEFAULT_SILENCE_MS))
        await self.send({"setupComplete": {}})

    async def _on_realtime_input(self, realtime: JsonObject) -> None:
        if "activityStart" in realtime:
            await self._caller_started()
        if "audio" in realtime and self.turns is not None:
            change = self.turns.feed(base64.b64decode(realtime["audio"]["data"]))
            if change == "started":
                await self._caller_started()
            elif change == "stopped":
                await self._caller_stopped()
        if "activityEnd" in realtime:
            await self._caller_stopped()
        if realtime.get("text"):
            await self._start_reply()

    async def _on_client_content(self, content: JsonObject) -> None:
        if content.get("turnComplete"):  # a typed turn or the greeting request: answer it
            await self._start_reply()

    async def _caller_started(self) -> None:
        """START_OF_ACTIVITY_INTERRUPTS: speech cuts a reply that is still being generated."""
        if self._cancel_reply():
            await self.send({"serverContent": {"interrupted": True}})
            await self.send({"serverContent": {"turnComplete": True}})

    async def _caller_stopped(self) -> None:
        heard = {"text": "(caller speech)", "finished": True}
        await self.send({"serverContent": {"inputTranscription": heard}})
        await self._start_reply()

    async def _start_reply(self) -> None:
        await self._caller_started()  # new input interrupts a reply still being generated
        # The "thinking" time before the first part, on the one timer of all connections.
        self.reply = self.timer.call_later(self.reply_delay_s, self._reply)

    async def _reply(self) -> None:
        current = self.reply
        try:
            await self._answer()
        finally:
            if self.reply is current:  # not a newer reply scheduled meanwhile
                self.reply = None

    async def _answer(self) -> None:
        if self.text_mode:
            parts = [{"text": "Thanks, I read your message."}]
            await self.send({"serverContent": {"modelTurn": {"parts": parts}}})
        else:
            await self._speak()
        await self.send({"serverContent": {"generationComplete": True}})
        await self.send({"serverContent": {"turnComplete": True}})
        self.handles += 1  # resumable between turns, as the server says
        update = {"newHandle": f"fake-handle-{self.handles}", "resumable": True}
        await self.send({"sessionResumptionUpdate": update})

    async def _speak(self) -> None:
        words = REPLY_WORDS.split(" ")
        for n, data in enumerate(reply_parts()):
            part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
            await self.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            first = len(words) * n // REPLY_CHUNKS
            said = words[first : len(words) * (n + 1) // REPLY_CHUNKS]
            if said:
                text = (" " if first else "") + " ".join(said)
                await self.send({"serverContent": {"outputTranscription": {"text": text}}})

    def _cancel_reply(self) -> bool:
        """Cancel a reply still thinking; False if there is none."""
        if self.reply is None or not self.reply.cancel():
            return False
        self.reply = None
        return True

    def aclose(self) -> None:
        self._cancel_reply()


def shape(message: JsonObject) -> tuple[str, ...]:
    """What kind of message this is, down to the fields of its body (audio vs activityStart)."""
    value = body(message)
    fields = tuple(sorted(value)) if isinstance(value, dict) else ()
    return (message_kind(message), *fields)


class FakeGeminiServer:
    """The fake on a loopback port; every connection gets its own ``LiveBehaviour``."""

    def __init__(
        self,
        reply_delay_s: float = REPLY_DELAY_S,
        behaviours: Sequence[type[LiveBehaviour]] = (),
    ) -> None:
        self.reply_delay_s = reply_delay_s
        self.behaviours = list(behaviours) or [LiveBehaviour]
        """The behaviour of each accepted connection in turn (the last repeats): a test's
        faults are subclasses."""
        self.connections = 0
        self.invalid: list[str] = []
        self.port = 0
        self.timer = ReplyTimer()
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.port = int(self._runner.addresses[0][1])
        self.timer.start()

    async def stop(self) -> None:
        await self.timer.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("x-goog-api-key"):
            return web.json_response({"error": {"code": 401}}, status=401)
        ws = web.WebSocketResponse(max_msg_size=4 << 20)
        await ws.prepare(request)
        kind = self.behaviours[min(self.connections, len(self.behaviours) - 1)]
        self.connections += 1
        behaviour = kind(ws, self.reply_delay_s, self.timer)
        checked: set[tuple[str, ...]] = set()
        try:
            async for frame in ws:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                message = orjson.loads(frame.data)
                if shape(message) not in checked and not self._valid(message):
                    await ws.close(code=1007, message=b"Request contains an invalid argument.")
                    break
                checked.add(shape(message))
                await behaviour.on_message(message)
        finally:
            behaviour.aclose()
        return ws

    def _valid(self, message: JsonObject) -> bool:
        try:
            validate_client_message(message)
        except (ValidationError, ValueError) as exc:
            self.invalid.append(f"{list(message)}: {exc}")
            print(f"invalid client message {list(message)}: {exc}", file=sys.stderr, flush=True)
            return False
        return True


async def serve_forever(host: str, port: int) -> None:
    server = FakeGeminiServer()
    await server.start(host, port)
    print(f"{BANNER}ws://{host}:{server.port}{PATH}", flush=True)
    try:
        await serve_until_stopped(CPU_LINE)
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
