"""Fixtures: a fake Gemini Live server on loopback, a virtual clock, and session helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from providers.events import ProviderEvent, ProviderRecovering
from providers.gemini_live import GeminiLiveProvider, GeminiLiveSession
from providers.spec import AssistantSpec, SessionContext
from tests.fakes.gemini_live import FakeGeminiLive
from tests.virtual_clock import VirtualClock

T = TypeVar("T")

API_KEY = "test-gemini-key-0123456789"
SAFETY_TIMEOUT_S = 5.0  # only a guard against hangs; tests synchronise on events


@pytest.fixture
async def fake() -> AsyncIterator[FakeGeminiLive]:
    server = FakeGeminiLive()
    await server.start()
    yield server
    await server.stop()
    assert server.validation_errors == []


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_provider(
    fake: FakeGeminiLive, clock: VirtualClock, http: aiohttp.ClientSession
) -> Callable[..., GeminiLiveProvider]:
    def make(**kwargs: Any) -> GeminiLiveProvider:
        kwargs.setdefault("session", http)
        kwargs.setdefault("url", fake.url)
        # Virtual time races ahead while ``drive`` waits for real loopback I/O; a huge
        # connect time-out keeps that from firing unless a test asks for it.
        kwargs.setdefault("connect_timeout_s", 1_000.0)
        kwargs.setdefault("connect_budget_s", 100_000.0)
        kwargs.setdefault("reconnect_budget_s", 100_000.0)
        kwargs.setdefault("audio_batch_ms", 0)  # tests send one chunk and expect its message
        return GeminiLiveProvider(kwargs.pop("api_key", API_KEY), clock=clock, **kwargs)

    return make


@pytest.fixture
async def open_session(
    fake: FakeGeminiLive, make_provider: Callable[..., GeminiLiveProvider]
) -> AsyncIterator[Callable[..., Awaitable[GeminiLiveSession]]]:
    """Connect a session (closed at teardown); keyword arguments go to AssistantSpec."""
    sessions: list[GeminiLiveSession] = []

    async def open_(
        mode: str = "voice", provider: GeminiLiveProvider | None = None, **assistant: Any
    ) -> GeminiLiveSession:
        assistant.setdefault("name", "Ava")
        assistant.setdefault("provider", "gemini")
        spec = AssistantSpec(**assistant)
        context = SessionContext(session_id="sess_1", mode=mode)  # type: ignore[arg-type]
        session = await (provider or make_provider()).connect(spec, context)
        assert isinstance(session, GeminiLiveSession)
        await fake.next_connection()  # tests use fake.connections[0]; next_connection() is new
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        await session.aclose()


class Events:
    """Reads a session's events one at a time, with a safety time-out."""

    def __init__(self, session: GeminiLiveSession) -> None:
        self._it = aiter(session)
        self.recovering: list[ProviderRecovering] = []

    async def next(self) -> ProviderEvent:
        """The next event; ``ProviderRecovering`` notices are kept aside in ``recovering``."""
        async with asyncio.timeout(SAFETY_TIMEOUT_S):
            while isinstance(event := await anext(self._it), ProviderRecovering):
                self.recovering.append(event)
            return event

    async def take(self, count: int) -> list[ProviderEvent]:
        return [await self.next() for _ in range(count)]

    async def until(self, kind: str) -> list[ProviderEvent]:
        """Events up to and including the first of ``kind``."""
        seen: list[ProviderEvent] = []
        while True:
            event = await self.next()
            seen.append(event)
            if event.kind == kind:
                return seen

    async def ended(self) -> bool:
        async with asyncio.timeout(SAFETY_TIMEOUT_S):
            try:
                await anext(self._it)
            except StopAsyncIteration:
                return True
        return False


class QueueSpy:
    """Counts events a session has queued, so a test can wait until the reader has processed
    what the fake sent (without sleeping)."""

    def __init__(self, session: GeminiLiveSession) -> None:
        self.events: list[ProviderEvent] = []
        self._changed = asyncio.Event()
        queue = session._events
        original = queue.put

        def put(event: ProviderEvent) -> None:
            original(event)
            self.events.append(event)
            self._changed.set()

        queue.put = put  # type: ignore[method-assign]

    async def seen(self, count: int) -> None:
        async with asyncio.timeout(SAFETY_TIMEOUT_S):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()


async def drive(clock: VirtualClock, task: asyncio.Task[T], *, step_s: float = 0.05) -> T:
    """Finish ``task``, advancing virtual time in small steps whenever it is not done (it may
    be sleeping on the clock: back-off, time-outs)."""
    async with asyncio.timeout(SAFETY_TIMEOUT_S):
        while not task.done():
            await asyncio.wait({task}, timeout=0.002)
            if not task.done():
                await clock.advance(step_s)
    return task.result()
