"""One timer for every session of a fake provider: the replies' think time.

A fake that starts a task per reply, each sleeping its think time, wakes the loop once per
reply and per task; under a load test of hundreds of calls that is the fake's own cost, not the
gateway's. ``ReplyTimer`` keeps the due replies in a heap and runs them from one task, which
sleeps until the earliest is due. Self-contained (imports nothing of Kura).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]


@dataclass(order=True)
class PendingReply:
    """A reply waiting for its time; ``cancel`` before then and it never runs."""

    due: float
    seq: int
    action: Action = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    started: bool = field(default=False, compare=False)

    def cancel(self) -> bool:
        """True if it had not started (it never will now)."""
        if self.started:
            return False
        self.cancelled = True
        return True


class ReplyTimer:
    """Runs each action ``delay_s`` after it was scheduled, in due order, from one task that
    its owner starts and stops. An action that fails (a socket gone) is logged and skipped."""

    def __init__(self) -> None:
        self._heap: list[PendingReply] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fake-reply-timer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def call_later(self, delay_s: float, action: Action) -> PendingReply:
        loop = asyncio.get_running_loop()
        pending = PendingReply(loop.time() + delay_s, next(self._seq), action)
        heapq.heappush(self._heap, pending)
        if self._heap[0] is pending:
            self._wake.set()  # the new earliest: the task must sleep less
        return pending

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self._heap and self._heap[0].due <= loop.time():
                pending = heapq.heappop(self._heap)
                if pending.cancelled:
                    continue
                pending.started = True
                try:
                    await pending.action()
                except (ConnectionError, RuntimeError) as exc:  # its client left meanwhile
                    log.debug("fake reply dropped: %s", type(exc).__name__)
            self._wake.clear()
            timeout = self._heap[0].due - loop.time() if self._heap else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
