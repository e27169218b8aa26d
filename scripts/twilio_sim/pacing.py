"""The call clock: seconds since the stream started, on a monotonic schedule.

Frame ``k`` is due at ``k × 20 ms`` of call time, computed from the start, never by sleeping
20 ms after the previous frame, so scheduling delays do not add up (no drift). ``speed`` > 1
runs the call faster than real time, so tests cover many seconds of a call in a fraction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class CallClock:
    """Call time in seconds since ``start()``, running ``speed`` times faster than wall time."""

    def __init__(self, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic):
        if not 0 < speed <= 1000:
            raise ValueError("speed must be in (0, 1000]")
        self.speed = speed
        self._monotonic = monotonic
        self._started_at = monotonic()

    def start(self) -> None:
        """Call time 0 is now."""
        self._started_at = self._monotonic()

    def now_s(self) -> float:
        return (self._monotonic() - self._started_at) * self.speed

    def wall_s(self, call_s: float) -> float:
        """The monotonic wall time at which call time ``call_s`` arrives (or arrived)."""
        return self._started_at + call_s / self.speed

    async def sleep_until(self, call_s: float) -> float:
        """Wait until call time ``call_s``; returns how late we woke, in call seconds (≥ 0)."""
        delay_s = (call_s - self.now_s()) / self.speed
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        return max(0.0, self.now_s() - call_s)
