"""The events a session has produced and its consumer has not yet taken.

A plain ``asyncio.Queue`` cannot drop an interrupted item's audio that is already queued;
this one can, which is what makes a barge-in silence the assistant at once.
"""

from __future__ import annotations

import asyncio
from collections import deque

from providers.events import AgentAudio, ProviderEvent


class EventQueue:
    """FIFO of provider events with ``drop_audio`` and an end marker (``close``)."""

    def __init__(self) -> None:
        self._items: deque[ProviderEvent] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: ProviderEvent) -> None:
        if self._closed:
            return
        self._items.append(event)
        self._ready.set()

    def drop_audio(self, item_id: str | None) -> None:
        """Forget queued audio of ``item_id``: the caller must not hear it any more."""
        self._items = deque(
            event
            for event in self._items
            if not (isinstance(event, AgentAudio) and event.item_id == item_id)
        )

    def close(self, *, discard: bool = False) -> None:
        """No more events; ``discard`` also forgets those not yet taken."""
        self._closed = True
        if discard:
            self._items.clear()
        self._ready.set()

    async def get(self) -> ProviderEvent | None:
        """The next event, or None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()
