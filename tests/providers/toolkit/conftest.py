"""A virtual clock that tests can await: "the code under test is now waiting on the clock"."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import pytest

from tests.virtual_clock import VirtualClock

T = TypeVar("T")
SAFETY_TIMEOUT_S = 5.0  # only a guard against hangs; tests synchronise on events


class SteppingClock(VirtualClock):
    """A ``VirtualClock`` that announces each new sleeper and knows the next deadline."""

    def __init__(self) -> None:
        super().__init__()
        self._slept = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self._slept.set()
        await super().sleep(seconds)

    def next_deadline_s(self) -> float | None:
        pending = [deadline for deadline, _, fut in self._sleepers if not fut.done()]
        return min(pending) if pending else None

    async def blocked(self, task: asyncio.Future[Any]) -> None:
        """Return once ``task`` is done or something waits on this clock."""
        async with asyncio.timeout(SAFETY_TIMEOUT_S):
            await self._blocked(task)

    async def _blocked(self, task: asyncio.Future[Any]) -> None:
        while not task.done() and not self.sleeper_count:
            self._slept.clear()
            slept = asyncio.ensure_future(self._slept.wait())
            try:
                await asyncio.wait({task, slept}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                slept.cancel()
                await asyncio.gather(slept, return_exceptions=True)

    async def run(self, task: asyncio.Task[T]) -> T:
        """Finish ``task``, moving time straight to each deadline it waits for."""
        async with asyncio.timeout(SAFETY_TIMEOUT_S):
            while True:
                await self._blocked(task)
                if task.done():
                    return task.result()
                deadline_s = self.next_deadline_s()
                assert deadline_s is not None
                await self.advance(max(0.0, deadline_s - self.monotonic()))


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()
