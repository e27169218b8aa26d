"""Event-loop lag: how late a timer fires, the delay every socket read on this loop also waits.

The per-frame delay the bridge records starts when a frame is read; a saturated loop delays
the read itself, which only this figure shows. It is the first thing to look at when calls
sound late on a busy gateway.
"""

from __future__ import annotations

import asyncio
import time

from gateway import metrics

INTERVAL_S = 0.1


async def watch_loop_lag(interval_s: float = INTERVAL_S) -> None:
    """Sleep ``interval_s`` over and over and record how late each wake-up is (until cancelled)."""
    while True:
        due = time.perf_counter() + interval_s
        await asyncio.sleep(interval_s)
        metrics.EVENT_LOOP_LAG.observe(max(0.0, time.perf_counter() - due))
