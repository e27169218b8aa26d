"""A provider whose events each test scripts, recording everything the gateway sends it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from kinds.audio import PCM16_24K
from providers.base import Provider, ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderError
from providers.events import ProviderEvent
from providers.spec import AssistantSpec, SessionContext

CAPABILITIES = ProviderCapabilities(
    input_audio=PCM16_24K,
    output_audio=PCM16_24K,
    server_vad=True,
    truncation=True,
    tools=True,
    text_mode=True,
    input_transcription=True,
)
_CLOSED = object()


@dataclass
class ScriptedSession(ProviderSession):
    assistant: AssistantSpec
    context: SessionContext
    declared: ProviderCapabilities = CAPABILITIES
    audio_in: bytearray = field(default_factory=bytearray)
    texts: list[str] = field(default_factory=list)
    interrupts: list[int | None] = field(default_factory=list)
    tool_results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _events: asyncio.Queue[object] = field(default_factory=asyncio.Queue)

    def __post_init__(self) -> None:
        self.capabilities = self.declared

    def emit(self, *events: ProviderEvent) -> None:
        for event in events:
            self._events.put_nowait(event)

    async def send_audio(self, audio: bytes) -> None:
        self.audio_in += audio

    async def send_text(self, text: str) -> None:
        self.texts.append(text)

    async def interrupt(self, played_ms: int | None = None) -> None:
        self.interrupts.append(played_ms)

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        self.tool_results.append((call_id, result))

    async def aclose(self) -> None:
        self.closed.set()
        self._events.put_nowait(_CLOSED)

    async def _iterate(self) -> AsyncIterator[ProviderEvent]:
        while True:
            event = await self._events.get()
            if event is _CLOSED:
                return
            yield event  # type: ignore[misc]

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return self._iterate()


class ScriptedProvider(Provider):
    """Each ``connect`` makes a session the test can reach through ``sessions``."""

    name = "scripted"

    def __init__(
        self,
        *,
        fail_with: ProviderError | None = None,
        capabilities: ProviderCapabilities = CAPABILITIES,
    ) -> None:
        self.declared = capabilities
        self.sessions: list[ScriptedSession] = []
        self.connected = asyncio.Event()
        self.fail_with = fail_with

    def capabilities(self, mode: str = "voice") -> ProviderCapabilities:
        return self.declared

    async def connect(self, assistant: AssistantSpec, context: SessionContext) -> ProviderSession:
        if self.fail_with is not None:
            raise self.fail_with
        session = ScriptedSession(assistant, context, self.declared)
        self.sessions.append(session)
        self.connected.set()
        return session
