"""The queue between a local session's producers and its one consumer (``async for``).

Unlike ``asyncio.Queue`` it can take back audio not yet delivered (``drop_audio``), so an
interrupt stops the assistant's sound at once rather than after the lead already queued, and it
can end iteration either after what is queued (a failure) or at once (``aclose``).
"""

from __future__ import annotations

import asyncio
from collections import deque

from providers.events import AgentAudio, ProviderEvent


class EventChannel:
    """Events in order for a single consumer; ``get`` returns ``None`` once closed and empty."""

    def __init__(self) -> None:
        self._events: deque[ProviderEvent] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, event: ProviderEvent) -> None:
        """Queue ``event``; ignored once the channel is closed."""
        if self._closed:
            return
        self._events.append(event)
        self._ready.set()

    def drop_audio(self, item_id: str) -> int:
        """Take back undelivered ``AgentAudio`` of ``item_id``; returns how many chunks."""
        kept = deque(
            event
            for event in self._events
            if not (isinstance(event, AgentAudio) and event.item_id == item_id)
        )
        dropped = len(self._events) - len(kept)
        self._events = kept
        return dropped

    def close(self, *, discard_pending: bool) -> None:
        """Accept nothing more; the consumer ends now or after what is queued."""
        self._closed = True
        if discard_pending:
            self._events.clear()
        self._ready.set()

    async def get(self) -> ProviderEvent | None:
        """The next event, waiting for one; ``None`` when closed and nothing is left."""
        while not self._events:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._events.popleft()
