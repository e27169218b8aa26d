"""Mid-session recovery: resume with a handle, goAway, rejected resume, stall (rows 8, 10, 12)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from providers.events import AgentAudio, ProviderFailed, ResponseDone
from providers.gemini_live import GeminiLiveSession
from tests.fakes.gemini_live import FakeConnection, FakeGeminiLive, body
from tests.providers.gemini.conftest import Events, QueueSpy, drive
from tests.virtual_clock import VirtualClock

OpenSession = Callable[..., Awaitable[GeminiLiveSession]]

LOUD = (8_000).to_bytes(2, "little", signed=True) * 320
CALLER_AUDIO = bytes(range(256)) * 5


async def _one_turn(
    conn: FakeConnection, events: Events, heard: str, said: str, *, handle: str
) -> None:
    """A whole turn, with a resumable handle before its end (so it has been applied when the
    turn's ResponseDone is read)."""
    await conn.send_content(inputTranscription={"text": heard, "finished": True})
    await conn.send_audio(b"\x01\x00" * 480)
    await conn.send_content(outputTranscription={"text": said})
    await conn.send_handle(handle)
    await conn.send_content(turnComplete=True)
    await events.until("response_done")


async def test_drop_mid_call_resumes_with_the_latest_resumable_handle_and_buffers_audio(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session(greeting="Hi!")
    events = Events(session)
    first = fake.connections[0]
    await _one_turn(first, events, "hello", "Hi there.", handle="h1")
    await first.send_handle("h2", resumable=False)  # mid-generation: not usable
    await first.send_audio(b"\x01\x00" * 480)
    partial = await events.next()
    assert isinstance(partial, AgentAudio)

    fake.auto_setup_complete = False  # hold the new connection at setup
    await first.close(1011, "Deadline expired")
    # The turn in progress will not continue: it ends as interrupted.
    assert await events.next() == ResponseDone(partial.item_id, interrupted=True)
    second = await fake.next_connection()
    assert second.resume_handle == "h1"
    await session.send_audio(CALLER_AUDIO)  # while reconnecting: held, not lost
    await second.send({"setupComplete": {}})
    assert body(await second.receive("realtimeInput"))["audio"]
    assert second.audio_received() == CALLER_AUDIO
    # Resumed: no re-seed and no second greeting; the cut-off turn is asked to go on.
    assert second.of_kind("clientContent") == [{"clientContent": {"turnComplete": True}}]

    await second.send_audio(b"\x02\x00" * 480)
    await second.send_content(turnComplete=True)
    got = await events.take(2)
    assert isinstance(got[0], AgentAudio) and got[1] == ResponseDone(got[0].item_id)


async def test_go_away_while_idle_resumes_before_the_server_closes(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    first = fake.connections[0]
    await first.send_handle("h1")
    await first.send({"goAway": {"timeLeft": "5s"}})
    second = await fake.next_connection()
    assert second.resume_handle == "h1"
    await first.wait_closed()  # we closed it, after the new one was set up
    await session.send_audio(CALLER_AUDIO)
    await second.receive("realtimeInput")
    await second.send_audio(b"\x02\x00" * 480)
    assert isinstance(await events.next(), AgentAudio)


async def test_go_away_mid_turn_waits_for_the_turn_to_complete(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    first = fake.connections[0]
    await first.send_handle("h1")
    await first.send_audio(b"\x01\x00" * 480)
    await first.send({"goAway": {"timeLeft": "50s"}})
    await first.send_audio(b"\x02\x00" * 480)
    await first.send_content(turnComplete=True)
    got = await events.take(3)
    assert [e.kind for e in got] == ["agent_audio", "agent_audio", "response_done"]
    second = await fake.next_connection()
    assert second.resume_handle == "h1"
    assert len(fake.connections) == 2


async def test_go_away_mid_turn_moves_at_half_the_time_left_at_the_latest(
    fake: FakeGeminiLive, clock: VirtualClock, open_session: OpenSession
) -> None:
    session = await open_session()
    spy = QueueSpy(session)
    first = fake.connections[0]
    await first.send_handle("h1")
    await first.send_audio(b"\x01\x00" * 480)
    await first.send({"goAway": {"timeLeft": "10s"}})
    await first.send_content(outputTranscription={"text": "sync"})
    await spy.seen(2)
    await clock.advance(4.9)
    assert len(fake.connections) == 1
    await clock.advance(0.2)
    second = await fake.next_connection()
    assert second.resume_handle == "h1"


@pytest.mark.parametrize("after_setup_complete", [False, True])
async def test_rejected_resume_falls_back_to_a_fresh_session_seeded_with_the_conversation(
    fake: FakeGeminiLive, open_session: OpenSession, after_setup_complete: bool
) -> None:
    session = await open_session(greeting="Hi!")
    events = Events(session)
    first = fake.connections[0]
    await _one_turn(first, events, "I need sales", "Sure, connecting you.", handle="h1")

    fake.auto_setup_complete = after_setup_complete
    await first.close(1011, "Deadline expired")
    resumed = await fake.next_connection()
    assert resumed.resume_handle == "h1"
    fake.auto_setup_complete = True
    await resumed.close(1007, "Request contains an invalid argument.")

    fresh = await fake.next_connection()
    assert fresh.resume_handle is None
    seed = body(await fresh.receive("clientContent"))
    assert seed["turnComplete"] is False
    assert [(t["role"], t["parts"][0]["text"]) for t in seed["turns"]] == [
        ("user", "I need sales"),
        ("model", "Sure, connecting you."),
    ]
    await fresh.send_audio(b"\x02\x00" * 480)
    assert isinstance(await events.next(), AgentAudio)
    assert len(fresh.of_kind("clientContent")) == 1  # the greeting is not repeated


async def test_reconnect_that_keeps_failing_ends_with_provider_failed(
    fake: FakeGeminiLive, clock: VirtualClock, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    fake.http_status = 503
    await fake.connections[0].close(1011, "Internal error")
    read = asyncio.create_task(events.next())
    event = await drive(clock, read)
    assert isinstance(event, ProviderFailed)
    assert (event.code, event.retryable) == ("reconnect_failed", True)
    assert fake.handshakes == 1 + 2  # one reconnect, of two attempts
    assert await events.ended()


async def test_stall_while_the_caller_speaks_is_detected_within_ten_seconds(
    fake: FakeGeminiLive, clock: VirtualClock, open_session: OpenSession
) -> None:
    session = await open_session()
    first = fake.connections[0]
    await first.send_handle("h1")
    await session.send_audio(b"\x00\x00" * 320)  # silence does not arm the watchdog
    await first.receive("realtimeInput")
    await clock.advance(30)
    assert len(fake.connections) == 1

    await session.send_audio(LOUD)
    await first.receive("realtimeInput")
    await clock.advance(9.9)
    assert len(fake.connections) == 1
    await clock.advance(0.1)
    second = await fake.next_connection()
    assert second.resume_handle == "h1"
    await first.wait_closed()


async def test_a_provider_that_keeps_stalling_fails_the_session(
    fake: FakeGeminiLive, clock: VirtualClock, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    for _ in range(2):  # one reconnect at the defaults, then the session fails
        await session.send_audio(LOUD)
        await fake.connections[-1].receive("realtimeInput")
        await clock.advance(10)
        if len(fake.connections) < 2:
            await fake.next_connection()
    event = await events.next()
    assert isinstance(event, ProviderFailed) and event.code == "provider_stalled"
    assert await events.ended()
