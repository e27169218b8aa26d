"""Ends the sessions of a node that died: active in the database, owned by nobody in Redis.

A SIGKILLed node stops refreshing its claims; once they lapse, any other node's sweeper finds
its sessions and finishes them with reason ``node_lost`` so listings, contacts and billing stay
truthful. A session must be seen unowned on two ticks ``confirm_s`` apart before it is swept:
a restarted (empty) Redis also shows live sessions as unowned, until their nodes' next refresh
writes the claims back. A sweep that cannot read Redis sweeps nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway.state.call_slots import CallSlots
from gateway.state.control import StateUnavailable
from gateway.state.redis_directory import RedisSessionDirectory
from gateway.store import Store
from kinds.clock import Clock

log = logging.getLogger(__name__)

LOST_REASON = "node_lost"


class LostSessionSweeper:
    """Finds and ends sessions whose owner's claim has lapsed."""

    def __init__(
        self,
        store: Store,
        directory: RedisSessionDirectory,
        clock: Clock,
        *,
        ttl_s: float,
        confirm_s: float,
        slots: CallSlots | None = None,
    ) -> None:
        self._slots = slots  # a lost call's concurrent-call slots are given back with it
        self._store = store
        self._directory = directory
        self._clock = clock
        self._ttl_s = ttl_s
        self._confirm_s = confirm_s
        self._unowned_since: dict[str, float] = {}

    async def sweep_once(self) -> list[str]:
        """One pass; returns the sessions this pass ended."""
        # Younger sessions may not have written their claim yet (the connect is in progress).
        cutoff = self._clock.now() - timedelta(seconds=self._ttl_s)
        candidates = [
            session_id
            for session_id in await self._store.sessions.active_connected_before(cutoff)
            if session_id not in self._directory.held
        ]
        try:
            owners = await self._directory.owners(candidates)
        except StateUnavailable:
            return []
        now = self._clock.monotonic()
        unowned = {i: self._unowned_since.get(i, now) for i in candidates if i not in owners}
        self._unowned_since = unowned
        swept = []
        for session_id, since in list(unowned.items()):
            if now - since < self._confirm_s:
                continue
            if await self._store.sessions.finish(session_id, LOST_REASON, self._clock.now()):
                log.warning("session swept: its node was lost", extra={"session_id": session_id})
                swept.append(session_id)
            if self._slots is not None:
                await self._slots.release(session_id)
            del self._unowned_since[session_id]
        return swept

    async def sweep_forever(self, every_s: float) -> None:
        """The sweeper task."""
        while True:
            await self._clock.sleep(every_s)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("lost-session sweep failed")
