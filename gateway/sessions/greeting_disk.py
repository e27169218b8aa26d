"""Keeps a node's ``GreetingCache`` in a directory across restarts (``KURA_GREETING_CACHE_DIR``).

At start the directory's greetings are read back into the cache (in a thread, before the node
takes calls), so the first call of each assistant after a restart hears its greeting at once
(~17 ms) instead of waiting for its provider (~750 ms). While the node runs, each greeting the
cache keeps is written, and each replay marks its file used, by one writer task that does the
file work in a thread: the call that recorded a greeting never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from gateway.sessions import greeting_files
from gateway.sessions.greeting_cache import CachedGreeting, GreetingCache, GreetingKey

__all__ = ["GreetingDisk"]

log = logging.getLogger(__name__)

_MAX_PENDING = 256
"""Writes waiting for the disk; far more than greetings are recorded (one per assistant)."""
_DRAIN_TIMEOUT_S = 5.0
"""At shutdown, how long pending writes may take before they are given up."""


@dataclass(frozen=True, slots=True)
class _Write:
    key: GreetingKey
    greeting: CachedGreeting


@dataclass(frozen=True, slots=True)
class _Touch:
    key: GreetingKey


class GreetingDisk:
    """The files behind ``cache`` in ``directory``, at most ``max_bytes`` of them."""

    def __init__(self, cache: GreetingCache, directory: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.cache, self.directory, self.max_bytes = cache, directory, max_bytes
        self._queue: asyncio.Queue[_Write | _Touch] = asyncio.Queue(_MAX_PENDING)
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Read the directory's greetings into the cache, then keep it written; how many were
        read (a directory that cannot be read leaves the cache in memory only)."""
        try:
            found = await asyncio.to_thread(
                greeting_files.load_greetings, self.directory, self.cache.max_bytes
            )
        except OSError:
            log.exception("greeting cache directory unreadable: greetings kept in memory only")
            return 0
        for entry in reversed(found):  # oldest first: the newest end most recently used
            self.cache.restore(entry.key, entry.greeting)
        self.cache.on_put = lambda key, greeting: self._enqueue(_Write(key, greeting))
        self.cache.on_hit = lambda key: self._enqueue(_Touch(key))
        self._writer = asyncio.create_task(self._write_all(), name="greeting-disk")
        log.info("greeting cache loaded", extra={"greetings": len(found)})
        return len(found)

    async def aclose(self) -> None:
        """Finish the pending writes (bounded), then stop."""
        self.cache.on_put = self.cache.on_hit = None
        if self._writer is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), _DRAIN_TIMEOUT_S)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    async def flushed(self) -> None:
        """Wait until every write so far is on disk (tests, shutdown)."""
        await self._queue.join()

    def _enqueue(self, work: _Write | _Touch) -> None:
        try:
            self._queue.put_nowait(work)
        except asyncio.QueueFull:  # the disk is stuck: the memory cache still serves
            log.warning("greeting cache write dropped: the disk is behind")

    async def _write_all(self) -> None:
        while True:
            work = await self._queue.get()
            try:
                await asyncio.to_thread(self._write, work)
            except OSError:
                log.exception("greeting cache write failed")
            finally:
                self._queue.task_done()

    def _write(self, work: _Write | _Touch) -> None:
        if isinstance(work, _Touch):
            greeting_files.touch(self.directory, work.key)
            return
        greeting_files.write_greeting(self.directory, work.key, work.greeting)
        greeting_files.evict(self.directory, self.max_bytes)
