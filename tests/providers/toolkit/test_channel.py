"""The event channel: order, taking back audio, and the three ways it ends."""

from __future__ import annotations

import asyncio

from providers.events import AgentAudio, ProviderFailed, ResponseDone, TranscriptDelta
from providers.toolkit.channel import EventChannel

A1, A2 = AgentAudio(b"\x01\x00", "item_a"), AgentAudio(b"\x02\x00", "item_a")
B1 = AgentAudio(b"\x03\x00", "item_b")
DONE_A = ResponseDone("item_a", interrupted=True)


async def taken(channel: EventChannel) -> list[object]:
    return [event async for event in channel]


async def test_events_come_out_in_order_and_end_after_close() -> None:
    channel = EventChannel()
    for event in (A1, TranscriptDelta("output", "hi", "item_a"), A2):
        channel.put(event)
    channel.close()
    assert len(channel) == 3
    assert await taken(channel) == [A1, TranscriptDelta("output", "hi", "item_a"), A2]
    assert await channel.get() is None


async def test_a_waiting_consumer_wakes_on_put_and_on_close() -> None:
    channel = EventChannel()
    waiting = asyncio.create_task(channel.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    channel.put(A1)
    assert await waiting == A1
    waiting = asyncio.create_task(channel.get())
    await asyncio.sleep(0)
    channel.close()
    assert await waiting is None


async def test_drop_audio_takes_back_only_that_items_undelivered_audio() -> None:
    channel = EventChannel()
    for event in (A1, B1, A2):
        channel.put(event)
    assert channel.drop_audio("item_a") == 2
    channel.put(DONE_A)
    channel.close()
    assert await taken(channel) == [B1, DONE_A]


async def test_close_discarding_pending_ends_at_once_and_later_puts_are_ignored() -> None:
    channel = EventChannel()
    channel.put(A1)
    channel.close(discard_pending=True)
    channel.put(A2)
    assert channel.closed
    assert await taken(channel) == []


async def test_provider_failed_is_the_last_event() -> None:
    channel = EventChannel()
    failed = ProviderFailed("connection_lost", "gone", True)
    for event in (A1, failed, A2):
        channel.put(event)
    assert channel.closed
    assert await taken(channel) == [A1, failed]
