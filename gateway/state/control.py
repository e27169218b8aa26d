"""Who holds a live session, and how to reach it: the session directory and the control bus.

In-process implementations here; the Redis ones (for many nodes) share these protocols.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from gateway.errors import Unavailable

EndHandler = Callable[[str, str], Awaitable[bool]]
"""Called with (session_id, reason); returns whether this node held the session."""


class StateUnavailable(Unavailable):
    """Shared state could not be read (Redis unreachable): callers fall back, never guess."""


class SessionDirectory(Protocol):
    async def claim(self, session_id: str, node_id: str) -> bool:
        """Record ``node_id`` as the owner; False if another node already owns it."""
        ...

    async def release(self, session_id: str, node_id: str) -> None: ...

    async def owner(self, session_id: str) -> str | None:
        """The owning node, or None; raises ``StateUnavailable`` if that cannot be known."""
        ...


class ControlBus(Protocol):
    def on_end(self, handler: EndHandler) -> None:
        """Install this node's handler for end requests."""
        ...

    async def request_end(self, session_id: str, reason: str) -> bool:
        """Ask the owner of a live session to end it; True if an owner took it."""
        ...


class MemorySessionDirectory:
    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    async def claim(self, session_id: str, node_id: str) -> bool:
        return self._owners.setdefault(session_id, node_id) == node_id

    async def release(self, session_id: str, node_id: str) -> None:
        if self._owners.get(session_id) == node_id:
            del self._owners[session_id]

    async def owner(self, session_id: str) -> str | None:
        return self._owners.get(session_id)


class MemoryControlBus:
    """One node: an end request goes straight to the local handler."""

    def __init__(self) -> None:
        self._handler: EndHandler | None = None

    def on_end(self, handler: EndHandler) -> None:
        self._handler = handler

    async def request_end(self, session_id: str, reason: str) -> bool:
        return await self._handler(session_id, reason) if self._handler else False
