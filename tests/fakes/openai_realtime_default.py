"""The fake's default behaviour, for load tests and manual runs: a tiny OpenAI Realtime.

It detects caller turns with an energy VAD (when the session asked for server VAD), answers each
turn, text message or ``response.create`` with audio and a transcript (or text in text mode)
about 300 ms later, and honours ``response.cancel`` and ``conversation.item.truncate``. As
OpenAI does with ``interrupt_response`` (on unless the session turns it off), the caller's
speech start cancels a reply in flight (``turn_detected``); a ``response.cancel`` with nothing
in flight gets OpenAI's ``response_cancel_not_active`` error.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from tests.fakes.openai_realtime import FakeConnection, Response
from tests.fakes.reply_timer import PendingReply

REPLY_DELAY_S = 0.3
REPLY_AUDIO_MS = 1200
SPEECH_LEVEL = 500
"""Mean absolute PCM16 amplitude above which a chunk counts as speech (quiet room ~ 50)."""


def _level(audio: bytes, encoding: str) -> float:
    """Mean loudness of a chunk, with numpy (a Python loop per sample was most of the fake's
    CPU under load)."""
    if not audio:
        return 0.0
    if encoding == "audio/pcm":
        samples = np.frombuffer(audio, "<i2", len(audio) // 2)
        return float(np.abs(samples, dtype=np.int32).mean()) if samples.size else 0.0
    # mu-law: the low 7 bits, inverted, grow with loudness; 0x7f/0xff are silence.
    codes = np.frombuffer(audio, np.uint8)
    return float((~codes & 0x7F).mean()) * 64


class TurnDetector:
    """Speech start on the first loud chunk, end after ``silence_ms`` of quiet."""

    def __init__(self) -> None:
        self.speaking = False
        self.quiet_ms = 0

    def feed(self, audio: bytes, encoding: str, silence_ms: int) -> str | None:
        duration_ms = len(audio) // (48 if encoding == "audio/pcm" else 8)
        if _level(audio, encoding) > SPEECH_LEVEL:
            self.quiet_ms = 0
            if not self.speaking:
                self.speaking = True
                return "started"
            return None
        if self.speaking:
            self.quiet_ms += duration_ms
            if self.quiet_ms >= silence_ms:
                self.speaking = False
                return "stopped"
        return None


class DefaultBehaviour:
    """Per-connection state of the default script; it owns its one reply task."""

    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self.turns = TurnDetector()
        self.reply: PendingReply | None = None
        """The reply thinking on the server's one timer; it speaks all at once when due."""
        self.response: Response | None = None
        self.user_item = ""

    def _input(self) -> dict[str, Any]:
        return dict((self.conn.session.get("audio") or {}).get("input") or {})

    async def on_event(self, event: dict[str, Any]) -> None:
        handlers = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "conversation.item.create": self._on_item_create,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "conversation.item.truncate": self._on_truncate,
        }
        handler = handlers.get(event["type"])
        if handler is not None:
            await handler(event)

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        await self.conn.send({"type": "session.updated", "session": dict(self.conn.session)})

    async def _on_append(self, event: dict[str, Any]) -> None:
        await self._on_audio(base64.b64decode(event["audio"]))

    async def _on_commit(self, event: dict[str, Any]) -> None:
        """Server VAD off: the client ended the turn; it asks for the reply itself."""
        self.user_item = self.conn.new_id("item")
        await self.conn.send({"type": "input_audio_buffer.committed", "item_id": self.user_item})

    async def _on_item_create(self, event: dict[str, Any]) -> None:
        item = {"id": self.conn.new_id("item"), **event["item"]}
        await self.conn.send({"type": "conversation.item.added", "item": item})

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        await self._start_reply(_verbatim(event))

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        if not await self._cancel_reply("client_cancelled"):
            # What OpenAI answers, word for word, when nothing is in flight (also when its
            # server VAD already cancelled the response).
            message = "Cancellation failed: no active response found"
            event_id = event.get("event_id")
            await self.conn.error("response_cancel_not_active", message=message, event_id=event_id)

    async def _cancel_reply(self, reason: str) -> bool:
        """Cancel the reply in flight (``response.done``, cancelled); False if there is none."""
        if self.reply is None or not self.reply.cancel():
            return False
        self.reply = None
        assert self.response is not None
        await self.conn.finish_response(self.response, "cancelled", reason)
        return True

    async def _on_truncate(self, event: dict[str, Any]) -> None:
        fields = {k: event[k] for k in ("item_id", "content_index", "audio_end_ms")}
        await self.conn.send({"type": "conversation.item.truncated", **fields})

    async def _on_audio(self, audio: bytes) -> None:
        detection = self._input().get("turn_detection")
        if not detection:
            return
        encoding = str((self._input().get("format") or {}).get("type") or "audio/pcm")
        silence_ms = int(detection.get("silence_duration_ms") or 500)
        change = self.turns.feed(audio, encoding, silence_ms)
        if change == "started":
            self.user_item = self.conn.new_id("item")
            started = {"audio_start_ms": 0, "item_id": self.user_item}
            await self.conn.send({"type": "input_audio_buffer.speech_started", **started})
            if detection.get("interrupt_response", True):  # the API's default
                await self._cancel_reply("turn_detected")
        elif change == "stopped":
            stopped = {"audio_end_ms": 0, "item_id": self.user_item}
            await self.conn.send({"type": "input_audio_buffer.speech_stopped", **stopped})
            await self.conn.send(
                {"type": "input_audio_buffer.committed", "item_id": self.user_item}
            )
            await self.conn.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": self.user_item,
                    "content_index": 0,
                    "transcript": "(caller speech)",
                    "usage": {"type": "duration", "seconds": 1.0},
                }
            )
            await self._start_reply()

    async def _start_reply(self, verbatim: str | None = None) -> None:
        if self.reply is not None:
            await self.conn.error("conversation_already_has_active_response")
            return
        # Created at once, like the real server, so a cancel right after finds it.
        response = self.response = await self.conn.start_response()
        # The "thinking" time before the first delta, on the one timer of all connections.
        self.reply = self.conn.timer.call_later(
            REPLY_DELAY_S, lambda: self._reply(response, verbatim)
        )

    async def _reply(self, response: Response, verbatim: str | None = None) -> None:
        """Speak the whole reply; a cancel before it is due stops it (``_cancel_reply``)."""
        current = self.reply
        try:
            await self._speak(response, verbatim)
        finally:
            if self.reply is current:  # not a newer reply scheduled meanwhile
                self.reply = None

    async def _speak(self, response: Response, verbatim: str | None = None) -> None:
        if self.conn.session.get("output_modalities") == ["text"]:
            await self.conn.text_item(response, verbatim or "Thanks, I read your message.")
        else:
            await self.conn.audio_item(response, verbatim or "Thanks, I heard you.", REPLY_AUDIO_MS)
        await self.conn.finish_response(response)

    def aclose(self) -> None:
        if self.reply is not None:
            self.reply.cancel()


def _verbatim(event: dict[str, Any]) -> str | None:
    """What a ``response.create`` asks to be said word for word (the greeting), if anything:
    a model told so says it, as the real one does."""
    instructions = str((event.get("response") or {}).get("instructions") or "")
    marker = "and nothing else:\n"
    return instructions.split(marker, 1)[1] if marker in instructions else None


async def default_script(conn: FakeConnection) -> None:
    """Serve one connection until the client leaves; client events reach the behaviour as
    they are read (``FakeConnection.handler``), the queue only holds the close."""
    behaviour = DefaultBehaviour(conn)
    conn.handler = behaviour.on_event
    await conn.session_created()
    try:
        while (event := await conn.next_event(timeout_s=None)) is not None:
            await behaviour.on_event(event)
    finally:
        behaviour.aclose()
