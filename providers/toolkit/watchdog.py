"""Stall detection: the socket is open but the provider has gone quiet while we wait on it.

The session says when it sent something that calls for an answer (``client_active``) and when
the provider spoke (``server_active``); waiting for ``stall_timeout_s`` without an answer is a
stall. A provider that may rightly stay silent (OpenAI during mutual silence) gets a ``probe``
at half the stall time, which a live server answers. One extra deadline (``deadline_at``: the
latest moment to leave a connection the server announced it will close) fires as well.

A live server can still fail the caller: it says it is responding (or has heard the caller's
turn end) and then no audio comes. ``expect_audio`` arms a second, shorter timer
(``audio_stall_s``) that only ``audio_arrived`` clears, not every other message (a server that
answers probes but never speaks is stalled too, from the caller's side).

Time is the injected clock's; between deadlines the watchdog sleeps exactly until the next one
and wakes early only when a new, earlier one is set, so detection is on time and idle costs
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Literal

from kinds.clock import Clock
from providers.toolkit.deadline import within

Alarm = Literal["stalled", "deadline"]

EPSILON_S = 1e-6
"""Deadlines count as reached this close: float rounding must not turn into endless tiny sleeps."""


class StallWatchdog:
    """Deadlines of one session's current connection; ``wait`` returns when one passes."""

    def __init__(
        self,
        clock: Clock,
        stall_timeout_s: float,
        *,
        probe: Callable[[], Awaitable[None]] | None = None,
        audio_stall_s: float | None = None,
    ) -> None:
        self._clock = clock
        self._stall_timeout_s = stall_timeout_s
        self._audio_stall_s = audio_stall_s
        self._probe = probe
        self._waiting_since: float | None = None
        self._audio_due_since: float | None = None
        self._probed_for: float | None = None
        self._deadline_s: float | None = None
        self._changed = asyncio.Event()

    def client_active(self) -> None:
        """We sent something the provider should react to (speech, text, a tool result)."""
        if self._waiting_since is None:
            self._waiting_since = self._clock.monotonic()
            self._changed.set()

    def server_active(self) -> None:
        """The provider said something: it is alive."""
        self._waiting_since = None

    def expect_audio(self) -> None:
        """The provider owes the caller speech (it is responding, or a turn calls for a reply):
        without ``audio_arrived`` within ``audio_stall_s`` the connection counts as stalled."""
        if self._audio_stall_s is not None and self._audio_due_since is None:
            self._audio_due_since = self._clock.monotonic()
            self._changed.set()

    @property
    def audio_owed(self) -> bool:
        """Speech is owed (``expect_audio``) and has not come yet."""
        return self._audio_due_since is not None

    def audio_arrived(self) -> None:
        """Speech (or something that replaces it: a tool call, the end of the response, the
        caller talking again) came: nothing is owed any more."""
        self._audio_due_since = None

    def deadline_at(self, at_s: float) -> None:
        """Also fire at clock time ``at_s`` (an earlier deadline replaces a later one)."""
        if self._deadline_s is None or at_s < self._deadline_s:
            self._deadline_s = at_s
            self._changed.set()

    def reset(self) -> None:
        """A new connection: forget the old one's deadlines."""
        self._waiting_since = self._probed_for = self._deadline_s = None
        self._audio_due_since = None

    async def wait(self) -> Alarm:
        """Sleep until a deadline passes (probing at half time if asked to); the deadlines are
        forgotten as it returns, so the next ``wait`` watches afresh."""
        while True:
            self._changed.clear()
            now_s = self._clock.monotonic() + EPSILON_S
            alarm = self._due(now_s)
            if alarm is not None:
                self.owed_at_alarm = self._audio_due_since is not None
                self.reset()
                return alarm
            if self._probe is not None and self._probe_due(now_s):
                self._probed_for = self._waiting_since
                await self._probe()
                continue
            await self._nap(self._next_s())

    def _due(self, now_s: float) -> Alarm | None:
        since = self._waiting_since
        if since is not None and now_s >= since + self._stall_timeout_s:
            return "stalled"
        owed = self._audio_owed_at()
        if owed is not None and now_s >= owed:
            return "stalled"
        if self._deadline_s is not None and now_s >= self._deadline_s:
            return "deadline"
        return None

    def _probe_due(self, now_s: float) -> bool:
        since = self._waiting_since
        return (
            since is not None
            and self._probed_for != since
            and now_s >= since + self._stall_timeout_s / 2
        )

    def _next_s(self) -> float | None:
        """Clock time of the next thing to do, or None when nothing is armed."""
        times: list[float] = []
        since = self._waiting_since
        if since is not None:
            times.append(since + self._stall_timeout_s)
            if self._probe is not None and self._probed_for != since:
                times.append(since + self._stall_timeout_s / 2)
        if self._deadline_s is not None:
            times.append(self._deadline_s)
        if (owed := self._audio_owed_at()) is not None:
            times.append(owed)
        return min(times) if times else None

    def _audio_owed_at(self) -> float | None:
        if self._audio_due_since is None or self._audio_stall_s is None:
            return None
        return self._audio_due_since + self._audio_stall_s

    async def _nap(self, until_s: float | None) -> None:
        """Sleep until ``until_s`` or until a new deadline is set, whichever comes first."""
        if until_s is None:
            await self._changed.wait()
            return
        with contextlib.suppress(TimeoutError):
            await within(self._clock, until_s - self._clock.monotonic(), self._changed.wait())
