"""Transcript retention: a periodic sweep deletes turns older than the configured days.

Every node runs it; deleting what is already gone is a no-op, so nodes need not agree on who
sweeps. Only counts are logged, never what was said.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway.store.sessions import SessionRepository
from kinds.clock import Clock

log = logging.getLogger(__name__)

RETENTION_SWEEP_S = 3600.0
"""Hourly: retention is counted in days, so an hour's lag is immaterial, and a large backlog
(the first sweep after the setting is turned on) is spread over few, bounded statements."""
FIRST_SWEEP_S = 60.0
"""The first sweep waits a minute after start-up, off the busy start (migrations, reconnecting
clients); short enough that nodes restarted often still sweep."""


class TranscriptRetention:
    """Deletes transcript turns that ended more than ``days`` ago."""

    def __init__(self, sessions: SessionRepository, clock: Clock, days: int) -> None:
        self._sessions = sessions
        self._clock = clock
        self._days = days

    async def sweep_once(self) -> int:
        cutoff = self._clock.now() - timedelta(days=self._days)
        deleted = await self._sessions.delete_turns_before(cutoff)
        if deleted:
            log.info("expired transcript turns deleted", extra={"count": deleted})
        return deleted

    async def run(self) -> None:
        """Sweep ``FIRST_SWEEP_S`` after start, then every ``RETENTION_SWEEP_S``, until
        cancelled."""
        await self._clock.sleep(FIRST_SWEEP_S)
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("transcript retention sweep failed")
            await self._clock.sleep(RETENTION_SWEEP_S)
