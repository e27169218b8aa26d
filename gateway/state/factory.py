"""Chooses the shared-state implementations for one node: in memory, or Redis when configured.

Kept out of ``gateway/app.py`` so the app only asks for "this node's shared state" and starts
and stops it; what runs in the background (and who cancels it) is decided here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from config import Settings
from gateway.state.call_slots import CallSlots, MemoryCallSlots, RedisCallSlots
from gateway.state.control import (
    ControlBus,
    MemoryControlBus,
    MemorySessionDirectory,
    SessionDirectory,
)
from gateway.state.node_addresses import (
    MemoryNodeAddresses,
    NodeAddresses,
    RedisNodeAddresses,
)
from gateway.state.ratelimit import MemoryRateLimiter, RateLimiter
from gateway.state.redis_bus import RedisControlBus
from gateway.state.redis_directory import RedisSessionDirectory
from gateway.state.redis_link import RedisLink, open_redis
from gateway.state.redis_ratelimit import RedisRateLimiter
from gateway.state.sweeper import LostSessionSweeper
from gateway.store import Store
from kinds.clock import Clock


@dataclass(slots=True)
class SharedState:
    """This node's view of state shared between nodes, the Redis link behind it (if any), and
    the background tasks that keep it true (owned here: started with the app, cancelled and
    awaited when it stops)."""

    limiter: RateLimiter
    directory: SessionDirectory
    bus: ControlBus
    slots: CallSlots
    addresses: NodeAddresses = field(default_factory=MemoryNodeAddresses)
    """Where the other nodes are reached (forwarded resumes and REST chat messages)."""
    redis: RedisLink | None = None
    settings: Settings | None = None
    clock: Clock | None = None
    node_id: str = ""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def redis_ok(self) -> bool | None:
        """PING Redis: True or False, or None when this node runs without Redis."""
        return None if self.redis is None else await self.redis.ping()

    def start(self, store: Store) -> None:
        """Start the refresher, the bus listener, the poll fallback and the lost-session
        sweeper (Redis only: in memory there is nothing to refresh or reach)."""
        directory, bus = self.directory, self.bus
        if not isinstance(directory, RedisSessionDirectory):
            return
        assert isinstance(bus, RedisControlBus)
        assert self.settings is not None and self.clock is not None
        s = self.settings
        sweeper = LostSessionSweeper(
            store,
            directory,
            self.clock,
            ttl_s=s.ownership_ttl_s,
            confirm_s=2 * s.ownership_refresh_s,
            slots=self.slots,
        )
        self._spawn("ownership-refresher", directory.refresh_forever(s.ownership_refresh_s))
        self._spawn("control-bus-listener", bus.listen_forever())
        self._spawn("control-bus-poller", bus.poll_forever(store, s.control_poll_s))
        self._spawn("lost-session-sweeper", sweeper.sweep_forever(s.ownership_refresh_s))
        if isinstance(self.addresses, RedisNodeAddresses) and s.node_url:
            self._spawn("node-advertiser", self.addresses.advertise_forever(s.ownership_refresh_s))

    def _spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def aclose(self) -> None:
        """Cancel and await every background task, then close the Redis client."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.redis is not None:
            await self.redis.aclose()


def build_shared_state(settings: Settings, clock: Clock, node_id: str) -> SharedState:
    """Memory implementations without ``KURA_REDIS_URL``; Redis ones (one client) with it.
    Nothing connects here: the client connects on first use."""
    if not settings.redis_url:
        return SharedState(
            limiter=MemoryRateLimiter(clock),
            directory=MemorySessionDirectory(),
            bus=MemoryControlBus(),
            slots=MemoryCallSlots(clock),
        )
    url = settings.redis_url
    link = RedisLink(open_redis(url), settings.redis_key_prefix, clock, subscriber=open_redis(url))
    directory = RedisSessionDirectory(link, ttl_s=settings.ownership_ttl_s, clock=clock)
    return SharedState(
        limiter=RedisRateLimiter(link, clock),
        directory=directory,
        bus=RedisControlBus(link, node_id, directory, clock),
        slots=RedisCallSlots(link, clock),
        addresses=RedisNodeAddresses(
            link, node_id, settings.node_url, ttl_s=settings.ownership_ttl_s, clock=clock
        ),
        redis=link,
        settings=settings,
        clock=clock,
        node_id=node_id,
    )
