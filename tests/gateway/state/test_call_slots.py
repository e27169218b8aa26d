"""Concurrent-call slots: all keys or none, per holder, leases that lapse, and the same rules
across two nodes on one Redis (and in memory)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.state.call_slots import (
    UNLIMITED,
    CallSlots,
    MemoryCallSlots,
    RedisCallSlots,
    slot_keys,
)
from tests.gateway.state.conftest import LinkFactory, unreachable_link
from tests.virtual_clock import VirtualClock


def test_slot_keys_count_every_call_even_without_a_limit() -> None:
    keys = slot_keys(3, 9, {"global": None, "assistant": 2, "number": None})
    assert keys == {"global": UNLIMITED, "assistant:3": 2, "number:9": UNLIMITED}
    assert "number:9" not in slot_keys(3, None, {})


async def _rules(slots: CallSlots, clock: VirtualClock) -> None:
    limits = {"global": 2, "assistant:1": 1}
    assert await slots.acquire("a", limits, 60) is None
    assert await slots.acquire("a", limits, 60) is None  # again by its holder: still one slot
    assert await slots.acquire("b", limits, 60) == "assistant:1"
    assert await slots.count("global") == 1  # the refused call took nothing
    assert await slots.acquire("c", {"global": 2, "assistant:2": 1}, 60) is None
    assert await slots.acquire("d", {"global": 2, "assistant:3": 1}, 60) == "global"
    await slots.release("a")
    await slots.release("a")  # idempotent
    assert await slots.acquire("b", limits, 60) is None
    await clock.advance(61)  # leases lapse on their own: a lost release costs a minute at most
    assert await slots.count("global") == 0
    assert await slots.acquire("d", {"global": 2, "assistant:3": 1}, 60) is None


async def test_memory_slots() -> None:
    clock = VirtualClock()
    await _rules(MemoryCallSlots(clock), clock)


@pytest.mark.redis
async def test_redis_slots(redis_links: LinkFactory) -> None:
    clock = VirtualClock()
    await _rules(RedisCallSlots(redis_links(clock), clock), clock)


@pytest.mark.redis
async def test_two_nodes_never_exceed_a_limit(redis_links: LinkFactory) -> None:
    clock = VirtualClock()
    nodes = [RedisCallSlots(redis_links(clock), clock) for _ in range(2)]
    results = await asyncio.gather(
        *(nodes[i % 2].acquire(f"call-{i}", {"assistant:1": 5}, 600) for i in range(40))
    )
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 5
    await nodes[1 - winners[0] % 2].release(f"call-{winners[0]}")  # by the other node
    assert await nodes[0].count("assistant:1") == 4


async def test_redis_down_counts_per_node() -> None:
    clock = VirtualClock()
    slots = RedisCallSlots(unreachable_link(clock), clock)
    assert await slots.acquire("a", {"global": 1}, 60) is None
    assert await slots.acquire("b", {"global": 1}, 60) == "global"
    await slots.release("a")
    assert await slots.acquire("b", {"global": 1}, 60) is None
