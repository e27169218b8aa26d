"""Time-outs on the injected clock: ``asyncio.timeout`` follows the loop's clock, which a test's
virtual clock does not move, so every provider time-out goes through ``within`` instead."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from kinds.clock import Clock

T = TypeVar("T")


async def within(clock: Clock, timeout_s: float, work: Awaitable[T]) -> T:
    """``work``'s result, or ``TimeoutError`` once ``timeout_s`` pass on ``clock``.

    ``work`` is cancelled on time-out (and when the caller is cancelled) and awaited either way,
    so nothing outlives the call. A result that is ready when the timer fires still wins.
    """
    work_task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        await asyncio.wait({work_task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work_task, timer):
            task.cancel()
        await asyncio.gather(work_task, timer, return_exceptions=True)
    if work_task.cancelled():
        raise TimeoutError
    return work_task.result()
