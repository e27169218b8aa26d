"""One timer for every simulated call of a load step: the generator's frame clock.

A call that sleeps until each of its own frames costs the generator a timer, a future and a
task wake-up per frame: fifty a second per call, which at a few hundred calls is what limited
the load test rather than the gateway. Here one task wakes every ``FRAME_MS / SLOTS`` ms and
sends the frame of every call due in that slot. A call joins the next free slot and keeps it,
so calls keep spread phases as real carriers' do (the gateway never sees every call's frame
in one burst: a call takes the least busy slot), and each call sends one frame per 20 ms on a
schedule fixed when it joined (no drift).

The ticker measures itself: how late each tick woke (p50/p99/max), which is the generator's own
lag, reported apart from the gateway's; and slots whose sends took longer than a tick (the
generator was not scheduled, or has more calls than one core sends in time), for the record.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

FRAME_MS = 20
SLOTS = 10  # ticks per frame period: a call's frame is due within 2 ms of its phase
FrameSender = Callable[[int, float], Awaitable[bool]]
"""Sends frame ``k`` given the tick's lateness in ms; ``False``: the call's stream is over."""


@dataclass
class _Stream:
    send: FrameSender
    frames: int
    done: asyncio.Future[None]
    k: int = 0


@dataclass
class TickerStats:
    """The generator's own timing over a window (``reset`` starts a new one)."""

    lateness_ms: list[float] = field(default_factory=list)
    slow_slots: int = 0

    def figures(self) -> dict[str, float | None]:
        got = sorted(self.lateness_ms)
        return {
            "ticks": len(got),
            "p50": round(statistics.median(got), 2) if got else None,
            "p99": round(got[min(len(got) - 1, int(len(got) * 0.99))], 2) if got else None,
            "max": round(got[-1], 2) if got else None,
            "slow_slots": self.slow_slots,
        }


class FrameTicker:
    """Sends every registered call's frames from one task; ``speed`` > 1 runs time faster
    (tests), with one slot per frame period since sub-millisecond timers are not kept."""

    def __init__(self, speed: float = 1.0, slots: int | None = None) -> None:
        if not 0 < speed <= 1000:
            raise ValueError("speed must be in (0, 1000]")
        self.slots = slots if slots is not None else (SLOTS if speed == 1 else 1)
        self.tick_s = FRAME_MS / 1000 / speed / self.slots
        self.stats = TickerStats()
        self._due: list[list[_Stream]] = [[] for _ in range(self.slots)]
        self._started_at = 0.0
        self._tick = 0  # the next tick to run
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def reset_stats(self) -> TickerStats:
        """The figures so far; a fresh window starts now."""
        stats, self.stats = self.stats, TickerStats()
        return stats

    async def stream(self, send: FrameSender, frames: int) -> None:
        """Call ``send(k, lateness_ms)`` for ``k`` in ``0 … frames-1``, one frame period
        apart, from its slot's next tick; returns when done, ``send`` said stop or raised."""
        if frames <= 0:
            return
        self._ensure_running()
        slot = min(range(self.slots), key=lambda s: len(self._due[s]))
        entry = _Stream(send, frames, asyncio.get_running_loop().create_future())
        self._due[slot].append(entry)
        self._wake.set()
        try:
            await entry.done
        finally:
            if not entry.done.done():  # cancelled: leave the schedule
                entry.done.cancel()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._started_at, self._tick = time.monotonic(), 0
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            if not any(self._due):  # idle: no timer until a stream joins
                self._wake.clear()
                await self._wake.wait()
                # Slots keep their phase: tick numbering continues from now.
                self._started_at = time.monotonic() - self._tick * self.tick_s
                continue
            due_at = self._started_at + self._tick * self.tick_s
            delay = due_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness_s = max(0.0, time.monotonic() - due_at)
            self.stats.lateness_ms.append(lateness_s * 1000)
            slot = self._tick % self.slots
            self._tick += 1
            await self._send_slot(slot, lateness_s * 1000)

    async def _send_slot(self, slot: int, lateness_ms: float) -> None:
        streams, keep, started = self._due[slot], [], time.monotonic()
        self._due[slot] = []  # streams joining while this slot sends wait for its next turn
        for entry in streams:
            if entry.done.done():
                continue
            try:
                more = await entry.send(entry.k, lateness_ms)
            except Exception as exc:  # the call's own failure: handed back to it
                entry.done.set_exception(exc)
                continue
            entry.k += 1
            if more and entry.k < entry.frames:
                keep.append(entry)
            else:
                entry.done.set_result(None)
        self._due[slot] = keep + self._due[slot]
        if time.monotonic() - started > self.tick_s:  # this slot's sends overran into the next
            self.stats.slow_slots += 1
