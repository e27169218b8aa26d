"""Run several coroutines until the first one finishes: how a session serves one connection
(reader, watchdog, recycle timer) and lets whichever ends first decide what happens next."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def first_of(*work: Coroutine[Any, Any, T]) -> T:
    """The result (or exception) of whichever coroutine finishes first; the others are
    cancelled and awaited before this returns, so none outlives it."""
    tasks = [asyncio.ensure_future(coro) for coro in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return next(task for task in tasks if task in done).result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
