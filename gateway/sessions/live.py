"""The conversations this node holds, so an end request (DELETE, drain, another node) reaches
them; ownership is recorded in the session directory for the other nodes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

from gateway.sessions.conversation import Conversation
from gateway.sessions.monitor_tokens import MonitorTokens
from gateway.state.control import ControlBus, SessionDirectory


class LiveSessions:
    """The conversations this node holds, so an end request can reach them."""

    def __init__(self, directory: SessionDirectory, bus: ControlBus, node_id: str) -> None:
        self._directory = directory
        self._node_id = node_id
        self._conversations: dict[str, Conversation] = {}
        self._reserved: set[str] = set()
        self.monitor_tokens = MonitorTokens()
        self._removed = asyncio.Condition()
        bus.on_end(self._end_local)

    def __len__(self) -> int:
        return len(self._reserved)

    async def reserve(self, session_id: str) -> None:
        """Record this node as the owner as soon as the session is claimed, before its
        provider connects, so no other node takes it for lost meanwhile."""
        self._reserved.add(session_id)
        await self._directory.claim(session_id, self._node_id)

    def get(self, session_id: str) -> Conversation | None:
        """The conversation, if it runs on this node."""
        return self._conversations.get(session_id)

    async def owner(self, session_id: str) -> str | None:
        """The node that holds the session, as the shared directory says."""
        return await self._directory.owner(session_id)

    async def add(self, session_id: str, conversation: Conversation) -> None:
        self._conversations[session_id] = conversation

    async def remove(self, session_id: str) -> None:
        self._conversations.pop(session_id, None)
        self.monitor_tokens.forget(session_id)
        self._reserved.discard(session_id)
        await self._directory.release(session_id, self._node_id)
        async with self._removed:
            self._removed.notify_all()

    async def wait_gone(self, session_ids: Collection[str], timeout_s: float = 5.0) -> None:
        """Wait (bounded) until none of these sessions runs on this node any more: their
        wrap-up, which hands the last turns to the transcript writer, is over."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._removed:
                await self._removed.wait_for(lambda: self._reserved.isdisjoint(session_ids))

    def end_all(self, reason: str) -> None:
        for conversation in list(self._conversations.values()):
            conversation.end(reason)

    async def _end_local(self, session_id: str, reason: str) -> bool:
        conversation = self._conversations.get(session_id)
        if conversation is None:
            return False
        conversation.end(reason)
        return True
