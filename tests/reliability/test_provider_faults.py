"""A provider fault at DEFAULT settings on the engine's line, OpenAI Realtime fake (issue #20
"no dead air"): a live socket that starts a response and never speaks is a stall the caller
does not sit through. The figures are virtual-clock seconds of what the caller would hear (see
``call_line``). The faults of rows 7-11 run on a real phone call through the gateway in
``test_phone_faults.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from providers.openai_realtime import OpenAIRealtimeProvider
from providers.spec import AssistantSpec
from tests.fakes.openai_realtime import FakeConnection, FakeRealtimeServer
from tests.reliability.call_line import Line, line
from tests.virtual_clock import VirtualClock

MAX_SILENCE_S = 3.0
ASSISTANT = AssistantSpec(name="Acme", provider="openai", greeting="Hello, Acme here.")
PROBE = {"type": "session.update", "session": {"type": "realtime"}}
Script = Callable[[FakeConnection], Awaitable[None]]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def fake() -> AsyncIterator[Callable[..., Awaitable[FakeRealtimeServer]]]:
    servers: list[FakeRealtimeServer] = []

    async def start(*scripts: Script, refuse: int | None = None) -> FakeRealtimeServer:
        server = FakeRealtimeServer(list(scripts), refuse=(lambda _: refuse) if refuse else None)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def provider(url: str, clock: VirtualClock) -> OpenAIRealtimeProvider:
    return OpenAIRealtimeProvider("sk-test", url, clock=clock)  # the defaults, all of them


# --- what the fake does -------------------------------------------------------------------------


async def alive_until(conn: FakeConnection, fault: asyncio.Event) -> None:
    """Answer liveness probes (a quiet but live server) until ``fault`` is set."""
    while not fault.is_set():
        read = asyncio.ensure_future(conn.next_event(timeout_s=None))
        faulted = asyncio.ensure_future(fault.wait())
        await asyncio.wait({read, faulted}, return_when=asyncio.FIRST_COMPLETED)
        faulted.cancel()
        if not read.done():
            read.cancel()
            return
        event = read.result()
        if event is None:
            return
        if event == PROBE:
            await conn.send({"type": "session.updated", "session": dict(conn.session)})


def greets_then(fault: asyncio.Event, then: Script) -> Script:
    """A good connection: greets, stays alive; once ``fault`` is set, runs ``then``."""

    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("response.create")
        await conn.audio_response("Hello, Acme here.", audio_ms=1000)
        await alive_until(conn, fault)
        await then(conn)

    return script


async def answers(conn: FakeConnection) -> None:
    """A fresh connection that replies when asked (greeting or reply), alive otherwise."""
    await conn.session_created()
    await conn.expect("response.create")
    await conn.audio_response("Sorry, where were we? Tomorrow at nine works.", audio_ms=1500)
    await alive_until(conn, asyncio.Event())


async def mid_call(call: Line) -> float:
    """Hear the greeting, then speak; returns when the caller's turn ended."""
    await call.connect()
    await call.run_until(lambda: call.ear.heard("agent") is not None, limit_s=3.0)
    await call.run(1.5)
    return await call.say()


# --- issue #20: a live socket that never speaks ---------------------------------------------


async def test_responding_but_no_audio_is_a_stall_and_recovers(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]]
) -> None:
    """The server says ``response.created``, answers probes, and never speaks (issue #20)."""
    fault = asyncio.Event()

    async def mute(conn: FakeConnection) -> None:
        await conn.start_response()
        await alive_until(conn, asyncio.Event())

    server = await fake(greets_then(fault, mute), answers)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        turn_end = await mid_call(call)
        fault.set()
        await call.run(8.0)
    assert call.ear.kinds() == ["agent", "holding", "agent"]
    answer = call.ear.heard("agent", after_s=turn_end)
    assert answer is not None
    assert call.ear.longest_silence(turn_end, answer) <= MAX_SILENCE_S  # measured: 2.0 s
    assert server.connections[1].received_types().count("response.create") == 1
