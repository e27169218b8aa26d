"""The events a session has produced and its one consumer (``async for``) has not yet taken.

Unlike ``asyncio.Queue`` it can take back audio not yet delivered (``drop_audio``), so a
barge-in silences the assistant at once rather than after the audio already queued; it ends
iteration after a ``ProviderFailed`` (the contract's last event), after what is queued
(``close``) or at once (``close(discard_pending=True)``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from providers.events import AgentAudio, ProviderEvent, ProviderFailed


class EventChannel:
    """Events in order for a single consumer; ``get`` returns ``None`` once closed and empty."""

    def __init__(self) -> None:
        self._events: deque[ProviderEvent] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._events)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, event: ProviderEvent) -> None:
        """Queue ``event``; ignored once closed. A ``ProviderFailed`` is the last event."""
        if self._closed:
            return
        self._events.append(event)
        self._ready.set()
        if isinstance(event, ProviderFailed):
            self._closed = True

    def drop_audio(self, item_id: str | None) -> int:
        """Take back undelivered ``AgentAudio`` of ``item_id``; returns how many chunks."""
        kept = deque(
            event
            for event in self._events
            if not (isinstance(event, AgentAudio) and event.item_id == item_id)
        )
        dropped = len(self._events) - len(kept)
        self._events = kept
        return dropped

    def close(self, *, discard_pending: bool = False) -> None:
        """Accept nothing more; the consumer ends after what is queued, or at once."""
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

    async def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        while (event := await self.get()) is not None:
            yield event
