"""The Redis session directory: one owner per session, claims that lapse unless refreshed,
release only by the owner, and a degraded (local) mode while Redis is unreachable."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.state.control import StateUnavailable
from gateway.state.redis_directory import RedisSessionDirectory
from kinds.clock import SystemClock
from tests.gateway.state.conftest import LinkFactory, unreachable_link
from tests.virtual_clock import VirtualClock

pytestmark = pytest.mark.redis


def _directory(redis_links: LinkFactory, ttl_s: float = 15.0) -> RedisSessionDirectory:
    return RedisSessionDirectory(redis_links(), ttl_s=ttl_s, clock=SystemClock())


async def test_one_owner_with_a_ttl_and_only_the_owner_releases(redis_links: LinkFactory) -> None:
    a, b = _directory(redis_links), _directory(redis_links)
    assert await a.claim("s1", "node-a")
    assert not await b.claim("s1", "node-b")
    assert await a.claim("s1", "node-a")  # claiming again is harmless
    assert await b.owner("s1") == "node-a"
    assert (a.held, b.held) == ({"s1"}, frozenset())
    link = redis_links()
    assert 0 < await link.client.pttl(link.key("owner", "s1")) <= 15_000
    await b.release("s1", "node-b")
    assert await a.owner("s1") == "node-a"
    await a.release("s1", "node-a")
    assert await b.owner("s1") is None
    assert a.held == frozenset()


async def test_100_connect_races_between_two_nodes_have_single_winners(
    redis_links: LinkFactory,
) -> None:
    a, b = _directory(redis_links), _directory(redis_links)
    ids = [str(uuid.uuid4()) for _ in range(100)]
    results = await asyncio.gather(
        *(a.claim(i, "node-a") for i in ids), *(b.claim(i, "node-b") for i in ids)
    )
    wins = [x + y for x, y in zip(results[:100], results[100:], strict=True)]
    assert wins == [1] * 100
    assert len(a.held) + len(b.held) == 100
    owners = await a.owners(ids)
    assert {i for i, node in owners.items() if node == "node-a"} == a.held


async def test_refresh_renews_ttls_and_restores_lost_claims(redis_links: LinkFactory) -> None:
    directory = _directory(redis_links, ttl_s=10.0)
    link = redis_links()
    for session_id in ("s1", "s2"):
        await directory.claim(session_id, "node-a")
    await link.client.pexpire(link.key("owner", "s1"), 50)  # nearly lapsed
    await link.client.delete(link.key("owner", "s2"))  # as if Redis restarted empty
    await directory.refresh()
    for session_id in ("s1", "s2"):
        assert 9_000 < await link.client.pttl(link.key("owner", session_id)) <= 10_000
    assert await directory.owners(["s1", "s2", "s3"]) == {"s1": "node-a", "s2": "node-a"}


async def test_unreachable_redis_keeps_claims_locally_and_never_guesses_owners() -> None:
    link = unreachable_link(VirtualClock())
    directory = RedisSessionDirectory(link, ttl_s=15.0, clock=VirtualClock())
    assert await directory.claim("s1", "node-a")  # the database claim already made it single
    assert directory.held == {"s1"}
    with pytest.raises(StateUnavailable):
        await directory.owner("s1")
    await directory.release("s1", "node-a")
    assert directory.held == frozenset()
    await link.client.aclose()
