"""The Conversation's clocks: the idle and max-duration limits, and the reply latency.

Kept apart from the engine so that what is measured and when a session times out can be read
(and changed) without the event handling around them; both run on the injected ``Clock``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from gateway import tracing
from kinds.clock import Clock


class SessionLimitsWatch:
    """Tells when a session has been idle too long or has run its maximum duration."""

    def __init__(self, clock: Clock, idle_timeout_s: float, max_duration_s: float | None) -> None:
        self._clock = clock
        self._idle_s = idle_timeout_s
        self._max_s = max_duration_s
        self._last_activity_s = self._started_s = clock.monotonic()

    def mark_activity(self) -> None:
        self._last_activity_s = self._clock.monotonic()

    async def expired(self) -> Literal["max_duration", "idle_timeout"]:
        """Sleep (on the clock) until a limit is reached; which one."""
        while True:
            now = self._clock.monotonic()
            idle_left = self._last_activity_s + self._idle_s - now
            duration_left = (self._started_s + self._max_s - now) if self._max_s else float("inf")
            if duration_left <= 0:
                return "max_duration"
            if idle_left <= 0:
                return "idle_timeout"
            await self._clock.sleep(min(idle_left, duration_left))


class ReplyLatency:
    """From the caller's end of turn (or the session's start) to the assistant's first output:
    observed as the turn latency, and traced as a span."""

    def __init__(self, clock: Clock, observe: Callable[[float], None] | None) -> None:
        self._clock = clock
        self._observe = observe
        self._caller_done_s: float | None = None  # when the caller's turn ended, if awaiting
        self._span: tracing.SpanHandle | None = tracing.start_span("first_agent_audio")

    def caller_done(self) -> None:
        self._caller_done_s = self._clock.monotonic()
        self.close()
        self._span = tracing.start_span("turn")

    def replying(self) -> None:
        if self._caller_done_s is not None and self._observe is not None:
            self._observe(self._clock.monotonic() - self._caller_done_s)
        self._caller_done_s = None
        if self._span is not None:
            self.close()

    def close(self) -> None:
        if self._span is not None:
            self._span.end()
            self._span = None
