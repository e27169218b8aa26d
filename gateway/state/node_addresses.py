"""Where each node can be reached by the others (``KURA_NODE_URL``), beside the claims.

A node that receives a resume or a REST chat message for a session another node holds looks
the owner up in the session directory, then the owner's address here, and forwards the request
(``gateway.api.node_forward``). In Redis the address is ``node:<id>`` with the ownership TTL,
refreshed with the claims, so a dead node's address lapses with its sessions.
"""

from __future__ import annotations

from typing import Protocol

from gateway.state.control import StateUnavailable
from gateway.state.redis_link import REDIS_ERRORS, RedisLink
from kinds.clock import Clock


class NodeAddresses(Protocol):
    async def address(self, node_id: str) -> str | None:
        """The node's internal URL, or None; raises ``StateUnavailable`` if unknowable."""
        ...


class MemoryNodeAddresses:
    """One node: there is no other node to reach."""

    async def address(self, node_id: str) -> str | None:
        del node_id
        return None


class RedisNodeAddresses:
    """This node's address, refreshed with a TTL; the others', read on demand."""

    def __init__(
        self, link: RedisLink, node_id: str, url: str | None, *, ttl_s: float, clock: Clock
    ) -> None:
        self._link = link
        self._node_id = node_id
        self._url = url
        self._ttl_ms = int(ttl_s * 1000)
        self._clock = clock

    def _key(self, node_id: str) -> str:
        return self._link.key("node", node_id)

    async def address(self, node_id: str) -> str | None:
        if not self._link.usable:
            raise StateUnavailable("node addresses unreachable")
        try:
            value = await self._link.client.get(self._key(node_id))
        except REDIS_ERRORS as exc:
            self._link.failed("node address", exc)
            raise StateUnavailable("node addresses unreachable") from exc
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def advertise(self) -> None:
        if self._url is not None:
            await self._link.client.set(self._key(self._node_id), self._url, px=self._ttl_ms)

    async def advertise_forever(self, every_s: float) -> None:
        """Publish this node's address now and each tick (failures are logged and retried)."""
        while True:
            try:
                await self.advertise()
            except REDIS_ERRORS as exc:
                self._link.failed("advertise", exc)
            await self._clock.sleep(every_s)
