"""Keeps the greeting a provider says on a call whose greeting is not cached yet (its first
call, or the first after the greeting, voice or model changed), for the next calls to replay.

The session is passed through untouched; the recorder only listens to the first response. It
keeps it when the response ran to its end (not cancelled) and its transcript is the greeting
word for word; anything else (a paraphrase, a tool call, an interrupted generation) is not kept,
and the next call tries again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from gateway.sessions.greeting_cache import GreetingCache, GreetingKey, said_verbatim
from providers.base import ProviderSession
from providers.events import AgentAudio, ProviderEvent, ResponseDone, ToolCall, TranscriptDelta

log = logging.getLogger(__name__)


class GreetingRecorder(ProviderSession):
    """A provider session whose first response, the greeting, goes into a ``GreetingCache``."""

    def __init__(self, session: ProviderSession, cache: GreetingCache, key: GreetingKey) -> None:
        self.capabilities = session.capabilities
        self.session = session
        self._cache, self._key = cache, key
        self._watching = True
        self._item_id: str | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._transcript = ""

    def _observe(self, event: ProviderEvent) -> None:
        match event:
            case AgentAudio(audio=audio, item_id=item_id):
                if self._item_id is None:
                    self._item_id = item_id
                if item_id != self._item_id:
                    self._stop()
                    return
                self._chunks.append(audio)
                self._size += len(audio)
                if self._size > self._cache.max_bytes:
                    self._stop()
            case TranscriptDelta(source="output", text=text, item_id=item_id):
                if item_id in (None, self._item_id) or self._item_id is None:
                    self._transcript += text
            case ResponseDone(interrupted=interrupted):
                kept = not interrupted and said_verbatim(self._key.text, self._transcript)
                if kept and self._cache.put(self._key, self._chunks) is not None:
                    log.info("greeting cached", extra={"provider": self._key.provider})
                self._stop()
            case ToolCall():
                self._stop()
            case _:
                pass

    def _stop(self) -> None:
        self._watching = False
        self._chunks, self._transcript = [], ""

    async def _events(self) -> AsyncIterator[ProviderEvent]:
        async for event in self.session:
            if self._watching:
                self._observe(event)
            yield event

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return self._events()

    async def interrupt(self, played_ms: int | None = None) -> None:
        # A cut before the greeting's generation ended leaves its audio incomplete.
        self._stop()
        await self.session.interrupt(played_ms)

    async def send_audio(self, audio: bytes) -> None:
        await self.session.send_audio(audio)

    async def send_text(self, text: str) -> None:
        await self.session.send_text(text)

    async def send_note(self, text: str) -> None:
        await self.session.send_note(text)

    async def begin_turn(self, started_ms_ago: int) -> None:
        await self.session.begin_turn(started_ms_ago)

    async def end_turn(self, ended_ms_ago: int) -> None:
        await self.session.end_turn(ended_ms_ago)

    async def caller_turn_ended(self, ended_ms_ago: int) -> None:
        await self.session.caller_turn_ended(ended_ms_ago)

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        await self.session.send_tool_result(call_id, result)

    async def aclose(self) -> None:
        self._stop()
        await self.session.aclose()
