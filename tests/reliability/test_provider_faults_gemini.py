"""Provider faults at DEFAULT settings, Gemini Live fake (reliability.md rows 7-10, 12): the
caller never hears more than 3 s of silence. As in ``test_provider_faults`` (OpenAI), figures
are virtual-clock seconds of what the caller would hear, the provider built with its defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from providers.gemini_live import GeminiLiveProvider
from providers.spec import AssistantSpec
from tests.fakes.gemini_live import FakeConnection, FakeGeminiLive, body
from tests.fakes.openai_realtime import free_port
from tests.reliability.call_line import Line, line
from tests.virtual_clock import VirtualClock

MAX_SILENCE_S = 3.0
ASSISTANT = AssistantSpec(name="Ava", provider="gemini", greeting="Hi, Ava here.")
Behaviour = Callable[[FakeConnection], Awaitable[None]]
REPLY = b"\x00\x10" * 24 * 1000  # 1 s of PCM16 24 kHz


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def fake() -> AsyncIterator[FakeGeminiLive]:
    server = FakeGeminiLive()
    await server.start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def serving(fake: FakeGeminiLive, *behaviours: Behaviour) -> AsyncIterator[None]:
    """Each new connection gets the next behaviour (the last one repeats)."""
    tasks: list[asyncio.Task[None]] = []

    async def accept() -> None:
        for index in range(100):
            conn = await fake.next_connection(timeout_s=3600)
            behaviour = behaviours[min(index, len(behaviours) - 1)]
            tasks.append(asyncio.create_task(behaviour(conn)))

    acceptor = asyncio.create_task(accept())
    try:
        yield
    finally:
        for task in [acceptor, *tasks]:
            task.cancel()
        await asyncio.gather(acceptor, *tasks, return_exceptions=True)


def provider(url: str, clock: VirtualClock) -> GeminiLiveProvider:
    return GeminiLiveProvider("gemini-test-key", url, clock=clock)  # the defaults, all of them


# --- what the fake does -------------------------------------------------------------------------


async def silent(conn: FakeConnection) -> None:
    """``setupComplete`` (sent by the fake itself), then nothing."""
    await asyncio.Event().wait()


async def speak(conn: FakeConnection) -> None:
    await conn.send_audio(REPLY)
    await conn.send_content(turnComplete=True)


async def until_asked(conn: FakeConnection) -> None:
    """Wait for a ``clientContent`` that asks for the model's turn (greeting or reply)."""
    while not body(await conn.receive("clientContent", timeout_s=3600)).get("turnComplete"):
        pass


async def alive_until(conn: FakeConnection, fault: asyncio.Event) -> None:
    """Transcribe the caller's speech as it comes (as Gemini does) until ``fault`` is set."""
    while not fault.is_set():
        read = asyncio.ensure_future(conn.receive("realtimeInput", timeout_s=3600))
        faulted = asyncio.ensure_future(fault.wait())
        await asyncio.wait({read, faulted}, return_when=asyncio.FIRST_COMPLETED)
        faulted.cancel()
        if not read.done():
            read.cancel()
            return
        audio = body(read.result()).get("audio")
        if audio and audio["data"].strip("A="):  # not all zero bytes: the caller speaks
            await conn.send_content(inputTranscription={"text": "mm "})


def greets_then(fault: asyncio.Event, then: Behaviour) -> Behaviour:
    async def behaviour(conn: FakeConnection) -> None:
        await until_asked(conn)
        await speak(conn)
        await alive_until(conn, fault)
        await then(conn)

    return behaviour


async def answers(conn: FakeConnection) -> None:
    await until_asked(conn)
    await speak(conn)
    await alive_until(conn, asyncio.Event())


async def mid_call(call: Line) -> float:
    await call.connect()
    await call.run_until(lambda: call.ear.heard("agent") is not None, limit_s=3.0)
    await call.run(1.5)
    return await call.say()


# --- row 7 --------------------------------------------------------------------------------------


async def test_refused_at_call_start_apologises_at_once(clock: VirtualClock) -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    async with line(provider(url, clock), ASSISTANT, clock) as call:
        await call.connect()
    assert call.ear.kinds() == ["apology"]
    assert call.ear.longest_silence(call.started_s) <= 0.5  # was 9.5 s for a dead endpoint


async def test_blackholed_at_call_start_holds_then_apologises(
    clock: VirtualClock, fake: FakeGeminiLive
) -> None:
    fake.auto_setup_complete = False  # accepts the socket, never completes the setup
    async with line(provider(fake.url, clock), ASSISTANT, clock) as call:
        await call.connect()
    assert call.ear.kinds() == ["holding", "apology"]
    assert call.ear.longest_silence(call.started_s) <= MAX_SILENCE_S
    apology = call.ear.heard("apology")
    assert apology is not None and apology - call.started_s <= 4.0 + 0.05
    assert fake.handshakes == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_fatal_handshake_is_not_retried(
    clock: VirtualClock, fake: FakeGeminiLive, status: int
) -> None:
    fake.http_status = status
    async with line(provider(fake.url, clock), ASSISTANT, clock) as call:
        await call.connect()
    assert call.ear.kinds() == ["apology"] and fake.handshakes == 1


# --- row 10 ---------------------------------------------------------------------------------------


async def test_accept_then_silence_at_call_start(clock: VirtualClock, fake: FakeGeminiLive) -> None:
    async with serving(fake, silent), line(provider(fake.url, clock), ASSISTANT, clock) as call:
        await call.connect()
        await call.run_until(lambda: call.ear.heard("apology") is not None, limit_s=15.0)
    assert call.ear.kinds() == ["holding", "apology"]
    assert call.ear.longest_silence(call.started_s) <= MAX_SILENCE_S
    assert fake.handshakes == 2
    # The greeting was never heard: the reconnect asks for it again.
    assert len(fake.connections[1].of_kind("clientContent")) == 1


async def test_accept_then_silence_mid_call(clock: VirtualClock, fake: FakeGeminiLive) -> None:
    fault = asyncio.Event()
    gemini = provider(fake.url, clock)
    async with (
        serving(fake, greets_then(fault, silent), silent),
        line(gemini, ASSISTANT, clock) as call,
    ):
        turn_end = await mid_call(call)
        fault.set()
        await call.run_until(lambda: call.ear.heard("apology") is not None, limit_s=15.0)
    assert call.ear.kinds() == ["agent", "holding", "apology"]
    assert call.ear.longest_silence(turn_end) <= MAX_SILENCE_S


# --- row 8 ---------------------------------------------------------------------------------------


async def test_drop_mid_response_recovers_within_3_s(
    clock: VirtualClock, fake: FakeGeminiLive
) -> None:
    fault = asyncio.Event()

    async def drop(conn: FakeConnection) -> None:
        await conn.send_audio(REPLY[: len(REPLY) // 3])
        await conn.close(1011, "Internal error")

    gemini = provider(fake.url, clock)
    async with (
        serving(fake, greets_then(fault, drop), answers),
        line(gemini, ASSISTANT, clock) as call,
    ):
        turn_end = await mid_call(call)
        fault.set()
        await call.run(6.0)
    assert call.ear.kinds() == ["agent", "holding", "agent"]
    held = next(sound.sent_at_s for sound in call.ear.sounds if sound.what == "holding")
    answer = call.ear.heard("agent", after_s=held)
    assert answer is not None
    assert call.ear.longest_silence(turn_end, answer) <= MAX_SILENCE_S


# --- row 9 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1007, 1008])
async def test_fatal_close_mid_call_apologises_at_once(
    clock: VirtualClock, fake: FakeGeminiLive, code: int
) -> None:
    fault = asyncio.Event()

    async def fail(conn: FakeConnection) -> None:
        await conn.close(code, "Request contains an invalid argument.")

    gemini = provider(fake.url, clock)
    async with serving(fake, greets_then(fault, fail)), line(gemini, ASSISTANT, clock) as call:
        turn_end = await mid_call(call)
        fault.set()
        await call.run_until(lambda: call.ear.heard("apology") is not None, limit_s=5.0)
    assert call.ear.kinds() == ["agent", "apology"]
    apology = call.ear.heard("apology")
    assert apology is not None and apology - turn_end <= 0.3  # row 9 asks <= 2 s
    assert fake.handshakes == 1


# --- row 12 --------------------------------------------------------------------------------------


async def test_go_away_while_idle_resumes_without_a_holding_line(
    clock: VirtualClock, fake: FakeGeminiLive
) -> None:
    fault = asyncio.Event()

    async def go_away(conn: FakeConnection) -> None:
        await conn.send_handle("h1")
        await conn.send({"goAway": {"timeLeft": "5s"}})
        await alive_until(conn, asyncio.Event())

    async def resumed(conn: FakeConnection) -> None:
        assert conn.resume_handle == "h1"
        await alive_until(conn, asyncio.Event())

    gemini = provider(fake.url, clock)
    async with (
        serving(fake, greets_then(fault, go_away), resumed),
        line(gemini, ASSISTANT, clock) as call,
    ):
        await call.connect()
        await call.run_until(lambda: call.ear.heard("agent") is not None, limit_s=3.0)
        fault.set()
        await call.run(3.0)
    assert call.ear.kinds() == ["agent"]  # planned: no holding line, no apology
    assert fake.handshakes == 2 and fake.connections[1].resume_handle == "h1"
