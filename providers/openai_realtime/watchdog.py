"""Stall detection: the socket is open but the provider has gone quiet while we talk to it.

A live Realtime server answers caller audio with VAD events and responses, but during a long
mutual silence it legitimately says nothing. So once we have been sending for half the stall
time without hearing back, we probe with an empty ``session.update``, which a live server always
answers with ``session.updated``. Nothing at all for the full stall time means stalled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kinds.clock import Clock
from providers.errors import ProviderUnavailable

IDLE_TICK_S = 0.5
"""How often an idle watchdog looks for new client activity; after that it sleeps exactly until
the deadline, so detection happens at ``stall_timeout_s`` (not later by a polling step)."""
EPSILON_S = 1e-6
"""Deadlines count as reached this close: float rounding must not turn into endless tiny sleeps."""


class StallWatchdog:
    """Tracks how long the client has been waiting on a silent server; owned by the session."""

    def __init__(self, clock: Clock, stall_timeout_s: float) -> None:
        self._clock = clock
        self._stall_timeout_s = stall_timeout_s
        self._waiting_since: float | None = None

    def client_active(self) -> None:
        """We sent something the server should react to (audio, text, a tool result)."""
        if self._waiting_since is None:
            self._waiting_since = self._clock.monotonic()

    def server_active(self) -> None:
        """The server said something: it is alive."""
        self._waiting_since = None

    async def run(self, probe: Callable[[], Awaitable[None]]) -> ProviderUnavailable:
        """Return (not raise) the stall error once it happens; the caller decides what next."""
        probed_for: float | None = None
        while True:
            since = self._waiting_since
            if since is None:
                await self._clock.sleep(IDLE_TICK_S)
                continue
            elapsed_s = self._clock.monotonic() - since + EPSILON_S
            if elapsed_s >= self._stall_timeout_s:
                return ProviderUnavailable(
                    "the provider stopped responding", code="provider_stalled"
                )
            probe_at_s = self._stall_timeout_s / 2
            if probed_for != since and elapsed_s >= probe_at_s:
                probed_for = since
                await probe()
            next_check_s = self._stall_timeout_s if probed_for == since else probe_at_s
            await self._clock.sleep(next_check_s - elapsed_s)
