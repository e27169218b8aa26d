"""The Redis rate limiter: exact across nodes, every key expiring, the memory limiter's headers,
and a documented per-node fallback while Redis is unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.state.ratelimit import MemoryRateLimiter
from gateway.state.redis_ratelimit import KEY_TTL_MS, RedisRateLimiter
from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.state.conftest import LinkFactory, unreachable_link
from tests.virtual_clock import VirtualClock

pytestmark = pytest.mark.redis


async def test_200_requests_over_two_nodes_let_exactly_60_through(
    redis_links: LinkFactory,
) -> None:
    clock = VirtualClock()  # one window throughout, whatever the real time
    nodes = [RedisRateLimiter(redis_links(clock), clock) for _ in range(2)]
    decisions = await asyncio.gather(*(nodes[i % 2].hit("key:7", 60) for i in range(200)))
    assert sum(d.allowed for d in decisions) == 60
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(60))
    refused = [d for d in decisions if not d.allowed]
    assert all(d.remaining == 0 and d.retry_after_s >= 1 for d in refused)


async def test_every_key_has_a_ttl_even_one_that_lost_it(
    redis_links: LinkFactory, redis_prefix: str
) -> None:
    link = redis_links()
    limiter = RedisRateLimiter(link, SystemClock())
    for key in ("key:1", "key:2", "ip:127.0.0.1"):
        await limiter.hit(key, 60)
    keys = [k async for k in link.client.scan_iter(match=redis_prefix + "*")]
    assert len(keys) == 3
    for key in keys:
        assert 0 < await link.client.pttl(key) <= KEY_TTL_MS
    await link.client.persist(keys[0])  # as if an older writer crashed between INCR and EXPIRE
    await limiter.hit(keys[0].decode().removeprefix(redis_prefix + "rl:").rsplit(":", 1)[0], 60)
    assert 0 < await link.client.pttl(keys[0]) <= KEY_TTL_MS


async def test_window_boundary_and_headers_match_the_memory_limiter(
    redis_links: LinkFactory,
) -> None:
    clock = VirtualClock()  # starts on a minute boundary
    redis = RedisRateLimiter(redis_links(clock), clock)
    memory = MemoryRateLimiter(clock)
    await clock.advance(59.0)
    got_redis, got_memory = [], []
    for _ in range(61):
        got_redis.append(await redis.hit("key:9", 60))
        got_memory.append(await memory.hit("key:9", 60))
    await clock.advance(0.9)  # 59.9 s: still the same window
    got_redis.append(await redis.hit("key:9", 60))
    got_memory.append(await memory.hit("key:9", 60))
    await clock.advance(0.2)  # 60.1 s: a new window
    got_redis.append(await redis.hit("key:9", 60))
    got_memory.append(await memory.hit("key:9", 60))
    assert got_redis == got_memory
    assert [d.allowed for d in got_redis] == [True] * 60 + [False, False, True]
    assert got_redis[60].retry_after_s == 1
    assert got_redis[-1].remaining == 59


async def test_unreachable_redis_falls_back_to_counting_on_this_node(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    link = unreachable_link(clock)
    limiter = RedisRateLimiter(link, clock)
    with caplog.at_level(logging.WARNING, logger="gateway.state.redis_link"):
        decisions = [await limiter.hit("key:3", 60) for _ in range(61)]
        await clock.advance(1.5)  # past the retry pause: Redis is tried (and fails) again
        decisions.append(await limiter.hit("key:3", 60))
    assert [d.allowed for d in decisions] == [True] * 60 + [False, False]
    assert decisions[0].limit == 60 and decisions[0].remaining == 59
    assert link.down
    warnings = [r for r in caplog.records if r.message == "redis unreachable: running degraded"]
    assert len(warnings) == 1  # the warning is rate-limited too
    await link.client.aclose()


@contextlib.asynccontextmanager
async def _gateway(tmp_path: Path, **settings: Any) -> AsyncIterator[Gateway]:
    running = start_gateway(tmp_path, VirtualClock(), **settings)
    try:
        yield await anext(running)
    finally:
        await running.aclose()


async def test_two_gateways_count_one_key_together(
    tmp_path: Path, redis_url: str, redis_prefix: str, redis_links: LinkFactory
) -> None:
    """Two nodes (own SQLite files, one Redis): the bootstrap key (id 1 on both) gets 60."""
    settings = {"redis_url": redis_url, "redis_key_prefix": redis_prefix}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        _gateway(tmp_path / "a", **settings) as a,
        _gateway(tmp_path / "b", **settings) as b,
    ):
        replies = [await (a, b)[i % 2].request("GET", "/api/v1/assistants") for i in range(70)]
    assert [r.status for r in replies] == [200] * 60 + [429] * 10
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in replies[:60]]
    assert remaining == list(range(59, -1, -1))
    assert replies[-1].headers["Retry-After"]
