"""Chooses the shared-state implementations for one node: in memory, or Redis when configured.

Kept out of ``gateway/app.py`` so the app only asks for "this node's shared state" and starts
and stops it; what runs in the background (and who cancels it) is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from gateway.state.ratelimit import MemoryRateLimiter, RateLimiter
from gateway.state.redis_link import RedisLink, open_redis
from gateway.state.redis_ratelimit import RedisRateLimiter
from providers.clock import Clock


@dataclass(slots=True)
class SharedState:
    """This node's view of state shared between nodes, and the Redis link behind it (if any)."""

    limiter: RateLimiter
    redis: RedisLink | None = None

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.client.aclose()


def build_shared_state(settings: Settings, clock: Clock) -> SharedState:
    """Memory implementations without ``KURA_REDIS_URL``; Redis ones (one client) with it.
    Nothing connects here: the client connects on first use."""
    if not settings.redis_url:
        return SharedState(limiter=MemoryRateLimiter(clock))
    link = RedisLink(open_redis(settings.redis_url), settings.redis_key_prefix, clock)
    return SharedState(limiter=RedisRateLimiter(link, clock), redis=link)
