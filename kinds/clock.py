"""Time as a dependency: code that waits or measures takes a ``Clock``.

Production code gets ``SystemClock``; tests pass a virtual clock (``tests/virtual_clock.py``)
that moves only when the test says, so time-outs are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Monotonic time for durations, wall time for timestamps, and a sleep that honours both."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
