"""Redis-backed state against the loopback Redis (required under CI=true).

Each test gets its own key prefix and deletes its keys afterwards, so tests (and developers'
gateways on the same server) never see each other's state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from gateway.state.redis_link import RedisLink, open_redis
from kinds.clock import Clock, SystemClock

LinkFactory = Callable[..., RedisLink]


@pytest.fixture
def redis_prefix() -> str:
    return f"kura-test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_links(redis_url: str, redis_prefix: str) -> AsyncIterator[LinkFactory]:
    """Makes links (one per simulated node), each with its own client, on one prefix."""
    clients: list[Redis] = []

    def make(clock: Clock | None = None) -> RedisLink:
        client, subscriber = open_redis(redis_url), open_redis(redis_url)
        clients.extend((client, subscriber))
        return RedisLink(client, redis_prefix, clock or SystemClock(), subscriber=subscriber)

    yield make
    cleaner = open_redis(redis_url)
    keys = [key async for key in cleaner.scan_iter(match=redis_prefix + "*")]
    if keys:
        await cleaner.delete(*keys)
    await cleaner.aclose()
    for client in clients:
        await client.aclose()


def unreachable_link(clock: Clock) -> RedisLink:
    """A link to a loopback port nothing listens on: every call fails at once."""
    from tests.kura_process import free_port

    return RedisLink(open_redis(f"redis://127.0.0.1:{free_port()}/0"), "kura-down:", clock)


POLL_S = 0.01


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    """Poll ``check`` (for state no event announces) until true; fail after ``timeout_s``."""
    for _ in range(int(timeout_s / POLL_S)):
        if await check():
            return
        await asyncio.sleep(POLL_S)
    pytest.fail(f"condition not met within {timeout_s} s")
