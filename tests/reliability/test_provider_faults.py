"""Provider faults at DEFAULT settings, OpenAI Realtime fake (reliability.md rows 7-11; issue #12
"dead air", issue #20 "no dead air"): the caller never hears more than 3 s of silence, whatever
the provider does. The figures are virtual-clock seconds of what the caller would hear (see
``call_line``); every provider is built with its defaults, nothing overridden.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from providers.openai_realtime import OpenAIRealtimeProvider
from providers.spec import AssistantSpec
from tests.fakes.openai_realtime import FakeConnection, FakeRealtimeServer, free_port
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


async def silent(conn: FakeConnection) -> None:
    """Accepts (``session.created``), then never says anything again."""
    await conn.session_created()
    while await conn.next_event(timeout_s=None) is not None:
        pass


async def blackhole(conn: FakeConnection) -> None:
    """Accepts the upgrade and never sends ``session.created``."""
    while await conn.next_event(timeout_s=None) is not None:
        pass


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


async def go_silent(conn: FakeConnection) -> None:
    while await conn.next_event(timeout_s=None) is not None:
        pass


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


# --- row 7: the provider is down at call start --------------------------------------------------


async def test_refused_at_call_start_apologises_at_once(clock: VirtualClock) -> None:
    url = f"ws://127.0.0.1:{free_port()}/v1/realtime"
    async with line(provider(url, clock), ASSISTANT, clock) as call:
        await call.connect()
    assert call.ear.kinds() == ["apology"]
    assert call.ear.longest_silence(call.started_s) <= 0.5  # two refusals, one 0.25 s pause


async def test_blackholed_at_call_start_holds_then_apologises_within_3_s_gaps(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]]
) -> None:
    server = await fake(blackhole)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        await call.connect()
    assert call.ear.kinds() == ["holding", "apology"]
    assert call.ear.longest_silence(call.started_s) <= MAX_SILENCE_S  # measured: 1.5 s
    apology = call.ear.heard("apology")
    assert apology is not None and apology - call.started_s <= 4.0 + 0.05  # 2 attempts x 2 s
    assert server.attempts == 2


@pytest.mark.parametrize("status", [401, 404])
async def test_fatal_handshake_is_not_retried(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]], status: int
) -> None:
    server = await fake(silent, refuse=status)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        await call.connect()
    assert call.ear.kinds() == ["apology"] and server.attempts == 1
    assert call.ear.longest_silence(call.started_s) <= 0.1


# --- rows 10 and 7: accepts, then silence ---------------------------------------------------------


async def test_accept_then_silence_at_call_start(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]]
) -> None:
    """Was 40 s of dead air (3 reconnects x 10 s); the greeting owed is watched for 2 s."""
    server = await fake(silent)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        await call.connect()
        await call.run_until(lambda: call.ear.heard("apology") is not None, limit_s=15.0)
    assert call.ear.kinds() == ["holding", "apology"]
    assert call.ear.longest_silence(call.started_s) <= MAX_SILENCE_S  # measured: 2.0 s
    assert server.attempts == 2  # one quick reconnect, no more


async def test_accept_then_silence_mid_call(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]]
) -> None:
    fault = asyncio.Event()
    server = await fake(greets_then(fault, go_silent), silent)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        turn_end = await mid_call(call)
        fault.set()
        await call.run_until(lambda: call.ear.heard("apology") is not None, limit_s=15.0)
    assert call.ear.kinds() == ["agent", "holding", "apology"]
    assert call.ear.longest_silence(turn_end) <= MAX_SILENCE_S  # measured: 2.5 s
    assert server.attempts == 2


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


# --- row 8: the provider drops mid-response ----------------------------------------------------


@pytest.mark.parametrize("close_code", [1011, 1006])
async def test_drop_mid_response_recovers_within_3_s(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]], close_code: int
) -> None:
    fault = asyncio.Event()

    async def drop(conn: FakeConnection) -> None:
        response = await conn.start_response()
        await conn.audio_item(response, "Let me see, we have", audio_ms=400)
        if close_code == 1006:
            assert conn.transport is not None
            conn.transport.abort()  # a TCP reset: no close frame at all
        else:
            await conn.close(close_code)

    server = await fake(greets_then(fault, drop), answers)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        turn_end = await mid_call(call)
        fault.set()
        await call.run(8.0)
    assert call.ear.kinds() == ["agent", "holding", "agent"]
    held = next(sound.sent_at_s for sound in call.ear.sounds if sound.what == "holding")
    answer = call.ear.heard("agent", after_s=held)
    assert answer is not None  # the new connection's reply
    assert call.ear.longest_silence(turn_end, answer) <= MAX_SILENCE_S
    assert not call.ear.errors


# --- row 9: fatal errors never loop, the apology comes at once ----------------------------------


@pytest.mark.parametrize("fatal", ["invalid_api_key", "insufficient_quota", "close_1008"])
async def test_fatal_error_mid_call_apologises_at_once(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]], fatal: str
) -> None:
    fault = asyncio.Event()

    async def fail(conn: FakeConnection) -> None:
        if fatal == "close_1008":
            await conn.close(1008)
        else:
            await conn.error(fatal)
            await conn.close(1000)

    server = await fake(greets_then(fault, fail), answers)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        turn_end = await mid_call(call)
        fault.set()
        await call.run_until(lambda: call.ear.heard("apology") is not None, limit_s=5.0)
    assert call.ear.kinds() == ["agent", "apology"]
    apology = call.ear.heard("apology")
    assert apology is not None and apology - turn_end <= 0.3  # row 9 asks <= 2 s
    assert server.attempts == 1


# --- row 11: the session cap ------------------------------------------------------------------


async def test_session_expired_reconnects_with_a_gap_under_1_s(
    clock: VirtualClock, fake: Callable[..., Awaitable[FakeRealtimeServer]]
) -> None:
    fault = asyncio.Event()

    async def expire(conn: FakeConnection) -> None:
        await conn.user_turn("What time do you open?")  # heard, then the cap strikes
        await conn.error("session_expired")
        await conn.close(1001)

    server = await fake(greets_then(fault, expire), answers)
    async with line(provider(server.url, clock), ASSISTANT, clock) as call:
        turn_end = await mid_call(call)
        fault.set()
        await call.run(5.0)
    assert call.ear.kinds() == ["agent"]  # no holding line: the caller should not notice
    answer = call.ear.heard("agent", after_s=turn_end)
    assert answer is not None and call.ear.longest_silence(turn_end, answer) <= 1.0
    replayed = [e["item"] for e in server.connections[1].received if "item" in e]
    assert [item["content"][0]["text"] for item in replayed] == [
        "Hello, Acme here.",
        "What time do you open?",
    ]
