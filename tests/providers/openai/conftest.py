"""Fixtures for the OpenAI Realtime provider tests: a virtual clock, the loopback fake, and
helpers that synchronise on events instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

from providers.base import ProviderSession
from providers.events import AgentAudio, ProviderEvent, ProviderFailed, ProviderRecovering
from providers.openai_realtime import OpenAIRealtimeProvider
from tests.fakes.openai_realtime import FakeConnection, FakeRealtimeServer, Refusal, Script
from tests.virtual_clock import VirtualClock

API_KEY = "sk-test-kura-secret-0123456789"
WAIT_S = 5.0
"""Safety net for awaiting an event that should come at once over loopback."""

NO_TIMEOUT = {"connect_timeout_s": 10_000.0, "connect_budget_s": 100_000.0}
"""For tests about other timers: virtual time advanced by ``drive`` never hits these."""

T = TypeVar("T")
ServerFactory = Callable[..., Awaitable[FakeRealtimeServer]]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def fake_server() -> AsyncIterator[ServerFactory]:
    """Start fakes with ``await fake_server(scripts, refuse=...)``; at teardown every client
    message must have passed the SDK validation and no script may have failed."""
    servers: list[FakeRealtimeServer] = []

    async def start(
        scripts: Script | Sequence[Script], refuse: Refusal | None = None
    ) -> FakeRealtimeServer:
        server = FakeRealtimeServer(scripts, refuse=refuse)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
    for server in servers:
        assert server.invalid_messages() == []
        assert server.script_errors == []


async def serve(conn: FakeConnection) -> None:
    """A server that accepts and then just listens."""
    await conn.session_created()


async def drain(conn: FakeConnection) -> None:
    """Read whatever the client sends and never answer: a stalled server."""
    while await conn.next_event(timeout_s=None) is not None:
        pass


def make_provider(url: str, clock: VirtualClock, **overrides: Any) -> OpenAIRealtimeProvider:
    """Caller audio goes out chunk by chunk unless a test asks for batching: tests send one
    chunk and expect its append."""
    overrides.setdefault("audio_batch_ms", 0)
    return OpenAIRealtimeProvider(API_KEY, url, clock=clock, **overrides)


class Events:
    """Reads a session's events with a safety timeout; ``next(kind)`` skips other kinds."""

    def __init__(self, session: ProviderSession) -> None:
        self._it = aiter(session)
        self.seen: list[ProviderEvent] = []

    async def next(self, kind: str | None = None) -> ProviderEvent:
        async with asyncio.timeout(WAIT_S):
            while True:
                event = await anext(self._it)
                self.seen.append(event)
                if kind is None or event.kind == kind:
                    return event

    async def until(self, kind: str) -> list[ProviderEvent]:
        """Every event up to and including the first of ``kind``."""
        start = len(self.seen)
        await self.next(kind)
        return self.seen[start:]

    async def rest(self) -> list[ProviderEvent]:
        """Everything until iteration ends."""
        out: list[ProviderEvent] = []
        async with asyncio.timeout(WAIT_S):
            async for event in self._it:
                out.append(event)
        return out


def failures(events: list[ProviderEvent]) -> list[tuple[str, bool]]:
    """``(code, retryable)`` of every event, which must all be ``ProviderFailed`` (or
    ``ProviderRecovering`` before a reconnect)."""
    allowed = (ProviderFailed, ProviderRecovering)
    assert all(isinstance(event, allowed) for event in events), events
    return [(event.code, event.retryable) for event in events if isinstance(event, ProviderFailed)]


def audio_received(events: list[ProviderEvent]) -> int:
    return sum(len(event.audio) for event in events if isinstance(event, AgentAudio))


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until ``condition`` holds (loopback I/O needs real loop turns).

    Polling, because the conditions span a socket, a fake and a virtual clock with no single
    event to wait on; it never waits for time to pass, only for work to happen.
    """
    async with asyncio.timeout(WAIT_S):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def drive(clock: VirtualClock, task: asyncio.Task[T], step_s: float = 0.25) -> T:
    """Advance virtual time whenever ``task`` is blocked on the clock, until it finishes."""
    async with asyncio.timeout(WAIT_S):
        while not task.done():
            await until(lambda: task.done() or clock.sleeper_count > 0)
            if not task.done():
                await clock.advance(step_s)
    return task.result()
