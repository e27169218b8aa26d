"""Per-key request limits: a fixed one-minute window, counted atomically.

A fixed window is exact ("60 per minute" means 60 between :00 and :59) and costs one atomic
increment with an expiry in Redis; its known cost is that a client may spend two windows' worth
around a boundary (at most 2 x limit in any 60 s), which the published policy allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kinds.clock import Clock

WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one request against a limit, with what the headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch_s: int
    retry_after_s: int


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int) -> RateDecision:
        """Count one request for ``key``; say whether it is within ``limit`` this window."""
        ...


def decide(count: int, limit: int, now_epoch_s: float) -> RateDecision:
    """Turn a window's running count into a decision (shared by every backend)."""
    window_start = int(now_epoch_s // WINDOW_S) * WINDOW_S
    reset = window_start + WINDOW_S
    allowed = count <= limit
    retry_after = 0 if allowed else max(1, int(reset - now_epoch_s + 0.999))
    return RateDecision(allowed, limit, max(0, limit - count), reset, retry_after)


class MemoryRateLimiter:
    """In-process windows; right for one node (``KURA_REDIS_URL`` unset)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int) -> RateDecision:
        now = self._clock.now().timestamp()
        window = int(now // WINDOW_S)
        if len(self._windows) > 10_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        start, count = self._windows.get(key, (window, 0))
        count = count + 1 if start == window else 1
        self._windows[key] = (window, count)
        return decide(count, limit, now)
