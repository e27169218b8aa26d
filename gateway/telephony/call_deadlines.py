"""Hard call deadlines: a call is hung up when its ``max_duration_s`` is up, whatever else is
stuck.

The conversation has its own duration limit, but ending it waits on things a failing call
cannot promise: a provider that stalls, a carrier that never echoes the marks of the last
words. So each answered call also gets a timer here, on the clock, that at the deadline asks
the carrier to hang up (REST) and ends the session, both at once and each bounded, so the call
ends on time even when neither the stream nor the provider answers. The carrier's own time
limit (``TimeLimit`` on outbound calls) backs this up should this node die.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kinds.clock import Clock

log = logging.getLogger(__name__)

OnDeadline = Callable[[str], Awaitable[None]]


class CallDeadlines:
    """One timer per live call, by session id."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._on_deadline: OnDeadline | None = None

    def on_deadline(self, handler: OnDeadline) -> None:
        self._on_deadline = handler

    def schedule(self, session_id: str, seconds: float) -> None:
        """Hang up the call of ``session_id`` ``seconds`` from now (re-arming replaces)."""
        self.cancel(session_id)
        due = self._clock.monotonic() + seconds
        self._timers[session_id] = asyncio.create_task(
            self._wait(session_id, due), name="call-deadline"
        )

    def cancel(self, session_id: str) -> None:
        timer = self._timers.pop(session_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    def armed(self, session_id: str) -> bool:
        return session_id in self._timers

    async def _wait(self, session_id: str, due: float) -> None:
        while (left := due - self._clock.monotonic()) > 0:
            await self._clock.sleep(left)
        self._timers.pop(session_id, None)
        log.info("call deadline reached", extra={"session_id": session_id})
        if self._on_deadline is not None:
            try:
                await self._on_deadline(session_id)
            except Exception:
                log.exception("ending a call at its deadline failed")

    async def aclose(self) -> None:
        timers = list(self._timers.values())
        self._timers.clear()
        for timer in timers:
            timer.cancel()
        for timer in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await timer
