"""A clock for tests: time moves only when the test calls ``advance``.

Sleepers wake in deadline order, each given a few loop turns to run (and maybe sleep again)
before the next deadline, so a test can step through time-outs without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


class VirtualClock:
    """A clock that only moves when a test calls ``advance``; sleepers wake in deadline order."""

    def __init__(self, start: datetime | None = None) -> None:
        self._mono = 1000.0
        self._wall0 = start or datetime(2026, 1, 26, 12, 0, tzinfo=UTC)
        self._mono0 = self._mono
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._sleep_waiters: list[asyncio.Future[None]] = []

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self._mono - self._mono0)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), fut))
        waiters, self._sleep_waiters = self._sleep_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        await fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper whose deadline passes, in order."""
        target = self._mono + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._mono = max(self._mono, deadline)
            if not fut.done():
                fut.set_result(None)
            # Let the woken task run (and maybe sleep again) before the next deadline.
            for _ in range(5):
                await asyncio.sleep(0)
        self._mono = target
        for _ in range(5):
            await asyncio.sleep(0)

    @property
    def sleeper_count(self) -> int:
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    async def sleeping(self, count: int = 1) -> None:
        """Return once at least ``count`` tasks sleep on this clock (a timer is armed)."""
        while self.sleeper_count < count:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._sleep_waiters.append(waiter)
            await waiter
