"""A provider whose events each test scripts, recording everything the gateway sends it.

What the gateway sends is kept in plain lists (``texts``, ``interrupts``, ...) and also signalled:
``await session.next_text()`` and its siblings return the next item not yet taken, waiting for
it if need be, and ``await session.drained()`` returns once the engine has taken every emitted
event; so engine tests synchronise on what happened, never on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

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
T = TypeVar("T")
TurnEdge = Literal["begin", "end"]


@dataclass(frozen=True, slots=True)
class _Raise:
    """Scripted failure: the iterator raises ``error`` when it reaches this point."""

    error: BaseException


@dataclass
class ScriptedSession(ProviderSession):
    assistant: AssistantSpec
    context: SessionContext
    declared: ProviderCapabilities = CAPABILITIES
    audio_in: bytearray = field(default_factory=bytearray)
    texts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """``send_note`` texts (supervisor whispers): guidance that asks for no reply."""
    interrupts: list[int | None] = field(default_factory=list)
    tool_results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    turn_marks: list[tuple[TurnEdge, int]] = field(default_factory=list)
    """``begin_turn``/``end_turn`` calls, in order, with their ``ms_ago``."""
    audio_chunks: list[bytes] = field(default_factory=list)
    """Each ``send_audio`` call's bytes as given (``audio_in`` is their concatenation)."""
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _events: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    _taken: dict[str, int] = field(default_factory=dict)  # per record list: items handed out
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)
    _idle: bool = False  # the iterator waits on an empty queue: every event was taken

    def __post_init__(self) -> None:
        self.capabilities = self.declared

    def emit(self, *events: ProviderEvent) -> None:
        for event in events:
            self._idle = False
            self._events.put_nowait(event)

    def fail(self, error: BaseException) -> None:
        """Make the iteration raise ``error`` once the events emitted so far are taken."""
        self._idle = False
        self._events.put_nowait(_Raise(error))

    async def send_audio(self, audio: bytes) -> None:
        self.audio_in += audio
        self.audio_chunks.append(audio)
        self._signal()

    async def send_text(self, text: str) -> None:
        self.texts.append(text)
        self._signal()

    async def send_note(self, text: str) -> None:
        self.notes.append(text)
        self._signal()

    async def interrupt(self, played_ms: int | None = None) -> None:
        self.interrupts.append(played_ms)
        self._signal()

    async def begin_turn(self, started_ms_ago: int) -> None:
        self.turn_marks.append(("begin", started_ms_ago))
        self._signal()

    async def end_turn(self, ended_ms_ago: int) -> None:
        self.turn_marks.append(("end", ended_ms_ago))
        self._signal()

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        self.tool_results.append((call_id, result))
        self._signal()

    async def aclose(self) -> None:
        self.closed.set()
        self._events.put_nowait(_CLOSED)
        self._signal()

    # --- what tests await ----------------------------------------------------------------------

    async def next_text(self) -> str:
        return await self._next("texts", self.texts)

    async def next_note(self) -> str:
        return await self._next("notes", self.notes)

    async def next_interrupt(self) -> int | None:
        return await self._next("interrupts", self.interrupts)

    async def next_tool_result(self) -> tuple[str, dict[str, Any]]:
        return await self._next("tool_results", self.tool_results)

    async def next_turn_mark(self) -> tuple[TurnEdge, int]:
        return await self._next("turn_marks", self.turn_marks)

    async def audio_at_least(self, n_bytes: int) -> bytes:
        """All caller audio received, once there are at least ``n_bytes`` of it."""
        await self._until(lambda: len(self.audio_in) >= n_bytes)
        return bytes(self.audio_in)

    async def drained(self) -> None:
        """Return once the consumer has taken (and finished acting on) every emitted event:
        the iterator is back waiting on an empty queue."""
        await self._until(lambda: self._idle and self._events.empty())

    async def _next(self, name: str, items: Sequence[T]) -> T:
        await self._until(lambda: self._taken.get(name, 0) < len(items))
        index = self._taken.get(name, 0)
        self._taken[name] = index + 1
        return items[index]

    async def _until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _signal(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # --- the event stream ----------------------------------------------------------------------

    async def _iterate(self) -> AsyncIterator[ProviderEvent]:
        while True:
            if self._events.empty():
                self._idle = True
                self._signal()
            event = await self._events.get()
            if event is _CLOSED:
                return
            if isinstance(event, _Raise):
                raise event.error
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
