"""Provider sessions opened when a call's voice webhook arrives, before its media socket does
(issue #20): the connect (and the greeting's generation) overlaps the carrier setting up the
stream, so the greeting is ready when the call connects.

One pending connect per session id; the media socket's runner ``take``s it. A connect nobody
takes (the stream went to another node, or never came) is closed after ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from kinds.clock import Clock
from providers.base import ProviderSession

log = logging.getLogger(__name__)

EARLY_CONNECT_TTL_S = 30.0
"""How long a pre-opened provider session waits for its call's media socket."""


class EarlyConnects:
    """Pending provider connects by session id (one node's)."""

    def __init__(self, clock: Clock, ttl_s: float = EARLY_CONNECT_TTL_S) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._pending: dict[str, asyncio.Task[ProviderSession]] = {}
        self._reapers: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._pending)

    def start(self, session_id: str, connecting: Coroutine[Any, Any, ProviderSession]) -> None:
        """Begin ``connecting`` for this session (a retried webhook's second one is dropped)."""
        if session_id in self._pending:
            connecting.close()
            return
        task = asyncio.ensure_future(connecting)
        self._pending[session_id] = task
        reaper = asyncio.ensure_future(self._reap_later(session_id, task))
        self._reapers.add(reaper)
        reaper.add_done_callback(self._reapers.discard)

    def take(self, session_id: str) -> asyncio.Task[ProviderSession] | None:
        """The session's connect, if one was started here; it is the caller's from now on."""
        return self._pending.pop(session_id, None)

    async def aclose(self) -> None:
        """Close every connect nobody took (shutdown)."""
        for reaper in list(self._reapers):
            reaper.cancel()
        pending, self._pending = list(self._pending.values()), {}
        for task in pending:
            await _discard(task)

    async def _reap_later(self, session_id: str, task: asyncio.Task[ProviderSession]) -> None:
        await self._clock.sleep(self._ttl_s)
        if self._pending.get(session_id) is task:
            del self._pending[session_id]
            log.info("early provider connect unused", extra={"session_id": session_id})
            await _discard(task)


async def _discard(task: asyncio.Task[ProviderSession]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        session = await task
        await session.aclose()
