"""Whether this node is draining: read by every door that takes new work.

Apart from ``drain`` (which runs the drain over the whole gateway context) so the context can
hold it without an import cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from gateway.errors import Unavailable

log = logging.getLogger(__name__)


class DrainState:
    """Whether this node is draining, and the drain task (owned here, cancelled on stop)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        """Set once the drain begins (an app session waiting for a resume stops waiting)."""
        self._task: asyncio.Task[None] | None = None

    @property
    def draining(self) -> bool:
        return self.started.is_set()

    @draining.setter
    def draining(self, value: bool) -> None:
        if value:
            self.started.set()
        else:
            self.started.clear()

    def refuse_new(self, what: str) -> None:
        """Raise 503 ``unavailable`` if this node is draining."""
        if self.draining:
            raise Unavailable(
                f"this gateway node is shutting down and takes no new {what}: retry, "
                "and another node will answer"
            )

    def on_sigterm(self, drain: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """The SIGTERM handler: start ``drain``; a second SIGTERM stops at once."""
        if self._task is not None:
            log.warning("second SIGTERM: stopping without waiting for live sessions")
            raise web.GracefulExit()
        self._task = asyncio.create_task(drain(), name="drain")

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
