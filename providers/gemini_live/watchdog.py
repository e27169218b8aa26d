"""Deadlines a Gemini session must act on: a stalled provider and an announced ``goAway``.

A provider *stalls* when its socket stays open but nothing arrives while the caller speaks.
The clock starts at the first voiced audio sent after the last server message and stops at
the next server message; at ``stall_timeout_s`` the watchdog fires. A ``goAway`` deadline is
the latest moment to move to a new connection before the server closes this one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from kinds.clock import Clock

Alarm = Literal["stalled", "go_away"]

_MAX_NAP_S = 1.0  # re-check at least this often, so a deadline moved earlier is seen in time


class Watchdog:
    """Sleeps on the injected clock until the earliest deadline, then calls ``on_alarm``."""

    def __init__(
        self,
        clock: Clock,
        stall_timeout_s: float,
        on_alarm: Callable[[Alarm], Awaitable[None]],
    ) -> None:
        self._clock = clock
        self._stall_timeout_s = stall_timeout_s
        self._on_alarm = on_alarm
        self._waiting_since: float | None = None
        self._go_away_at: float | None = None
        self._armed = asyncio.Event()

    def caller_spoke(self) -> None:
        """Voiced audio went to the server: something should come back."""
        if self._waiting_since is None:
            self._waiting_since = self._clock.monotonic()
            self._armed.set()

    def server_spoke(self) -> None:
        """A server message arrived: the provider is alive."""
        self._waiting_since = None

    def go_away_by(self, deadline_s: float) -> None:
        """Move to a new connection no later than ``deadline_s`` (clock time)."""
        self._go_away_at = deadline_s
        self._armed.set()

    def reset(self) -> None:
        """A new connection: forget the old one's deadlines."""
        self._waiting_since = None
        self._go_away_at = None

    async def run(self) -> None:
        """Fire alarms until cancelled by the owning session."""
        while True:
            alarm, deadline_s = self._next()
            if alarm is None:
                self._armed.clear()
                await self._armed.wait()
                continue
            remaining_s = deadline_s - self._clock.monotonic()
            if remaining_s > 0:
                await self._clock.sleep(min(remaining_s, _MAX_NAP_S))
                continue
            self.reset()
            await self._on_alarm(alarm)

    def _next(self) -> tuple[Alarm | None, float]:
        candidates: list[tuple[float, Alarm]] = []
        if self._waiting_since is not None:
            candidates.append((self._waiting_since + self._stall_timeout_s, "stalled"))
        if self._go_away_at is not None:
            candidates.append((self._go_away_at, "go_away"))
        if not candidates:
            return None, 0.0
        deadline_s, alarm = min(candidates)
        return alarm, deadline_s
