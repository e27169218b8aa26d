"""Barge-in: Gemini's ``interrupted`` and our own ``interrupt`` silence the assistant at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone
from providers.gemini_live import GeminiLiveSession
from tests.fakes.gemini_live import FakeGeminiLive
from tests.providers.gemini.conftest import Events, QueueSpy

OpenSession = Callable[..., Awaitable[GeminiLiveSession]]

A1, A2, A3, STALE, NEXT = (bytes([n, 0]) * 480 for n in range(1, 6))


async def test_server_interrupted_ends_the_item_and_drops_queued_and_later_audio(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    spy = QueueSpy(session)
    events = Events(session)
    conn = fake.connections[0]
    for chunk in (A1, A2, A3):
        await conn.send_audio(chunk)
    await spy.seen(3)
    first = await events.next()
    assert isinstance(first, AgentAudio) and first.audio == A1

    await conn.send_content(interrupted=True)
    await spy.seen(5)  # three chunks, CallerSpeechStarted, ResponseDone: A2 and A3 are now stale
    await conn.send_audio(STALE)  # the server may still flush some of the old turn
    await conn.send_content(turnComplete=True)
    await conn.send_audio(NEXT)
    await conn.send_content(turnComplete=True)

    got = await events.take(4)
    assert got[:2] == [CallerSpeechStarted(), ResponseDone(first.item_id, interrupted=True)]
    assert isinstance(got[2], AgentAudio) and got[2].audio == NEXT
    assert got[2].item_id != first.item_id
    assert got[3] == ResponseDone(got[2].item_id)


async def test_local_interrupt_drops_buffered_audio_at_once(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    spy = QueueSpy(session)
    events = Events(session)
    conn = fake.connections[0]
    for chunk in (A1, A2, A3):
        await conn.send_audio(chunk)
    await spy.seen(3)
    first = await events.next()
    assert isinstance(first, AgentAudio)

    await session.interrupt(played_ms=20)
    assert session.pending_events == 1  # A2 and A3 are gone; only the ResponseDone is left
    assert await events.next() == ResponseDone(first.item_id, interrupted=True)

    # Gemini has no cancel message: the rest of the turn arrives and is dropped.
    await conn.send_audio(STALE)
    await conn.send_content(outputTranscription={"text": "stale words"})
    await conn.send_content(interrupted=True)
    await conn.send_content(turnComplete=True)
    await conn.send_audio(NEXT)
    got = await events.take(2)
    assert got[0] == CallerSpeechStarted()
    assert isinstance(got[1], AgentAudio) and got[1].audio == NEXT
    assert got[1].item_id != first.item_id


async def test_local_interrupt_when_the_server_finishes_the_turn_anyway(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    conn = fake.connections[0]
    await conn.send_audio(A1)
    first = await events.next()
    assert isinstance(first, AgentAudio)
    await session.interrupt()
    await session.interrupt()  # a second barge-in on the same item is a no-op
    await conn.send_audio(STALE)
    await conn.send_content(generationComplete=True, turnComplete=True)
    await conn.send_audio(NEXT)
    got = await events.take(2)
    assert got[0] == ResponseDone(first.item_id, interrupted=True)
    assert isinstance(got[1], AgentAudio) and got[1].audio == NEXT
