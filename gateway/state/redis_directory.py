"""The session directory in Redis: which node holds each live session's connection.

A claim is ``SET owner:<id> <node> NX PX ttl``. The node refreshes every claim it holds in one
pipeline per tick; a node that dies stops refreshing, its claims lapse, and another node's
sweeper (``gateway.state.sweeper``) ends those sessions. Release deletes the key only if this
node still owns it (compare-and-delete in Lua), so a late release never erases a newer claim.

While Redis is unreachable, claims are kept in this node's memory and written by the first
refresh that succeeds; the database's atomic claim (``SessionRepository.claim``) is what keeps a
session to one connection, so no correctness depends on the directory.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from gateway.state.control import StateUnavailable
from gateway.state.redis_link import REDIS_ERRORS, RedisLink
from kinds.clock import Clock

log = logging.getLogger(__name__)

# KEYS[1] = owner key, ARGV[1] = node id: delete only our own claim.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisSessionDirectory:
    """Claims with a TTL, refreshed by their node; the sessions this node holds, in memory."""

    def __init__(self, link: RedisLink, *, ttl_s: float, clock: Clock) -> None:
        self._link = link
        self._ttl_ms = int(ttl_s * 1000)
        self._clock = clock
        self._held: dict[str, str] = {}
        self._release = link.client.register_script(RELEASE_SCRIPT)

    @property
    def held(self) -> frozenset[str]:
        """The sessions this node has claimed and not released."""
        return frozenset(self._held)

    def _key(self, session_id: str) -> str:
        return self._link.key("owner", session_id)

    async def claim(self, session_id: str, node_id: str) -> bool:
        if not self._link.usable:
            self._held[session_id] = node_id  # degraded: see the module docstring
            return True
        try:
            claimed = await self._link.client.set(
                self._key(session_id), node_id, nx=True, px=self._ttl_ms
            )
            if not claimed:
                current = await self._link.client.get(self._key(session_id))
                claimed = current is not None and _text(current) == node_id
        except REDIS_ERRORS as exc:
            self._link.failed("claim", exc)
            claimed = True  # degraded: recorded here, written by the next refresh that works
        else:
            self._link.succeeded()
        if claimed:
            self._held[session_id] = node_id
        return bool(claimed)

    async def release(self, session_id: str, node_id: str) -> None:
        if self._held.get(session_id) == node_id:
            del self._held[session_id]
        try:
            await self._release(keys=[self._key(session_id)], args=[node_id])
        except REDIS_ERRORS as exc:
            self._link.failed("release", exc)  # the claim lapses by itself

    async def owner(self, session_id: str) -> str | None:
        return (await self.owners([session_id])).get(session_id)

    async def owners(self, session_ids: Collection[str]) -> dict[str, str]:
        """The owners of those sessions that have one, in one round trip."""
        ids = list(session_ids)
        if not ids:
            return {}
        if not self._link.usable:
            raise StateUnavailable("session directory unreachable")
        try:
            values = await self._link.client.mget([self._key(i) for i in ids])
        except REDIS_ERRORS as exc:
            self._link.failed("owner", exc)
            raise StateUnavailable("session directory unreachable") from exc
        self._link.succeeded()
        return {i: _text(v) for i, v in zip(ids, values, strict=True) if v is not None}

    async def refresh(self) -> None:
        """Re-assert every claim held here, with a fresh TTL, in one pipeline.

        A plain ``SET`` (not ``PEXPIRE``) so claims lost with a restarted Redis, or made while
        it was unreachable, come back; only this node holds these sessions' connections.
        """
        held = dict(self._held)
        if not held:
            return
        async with self._link.client.pipeline(transaction=False) as pipe:
            for session_id, node_id in held.items():
                pipe.set(self._key(session_id), node_id, px=self._ttl_ms)
            await pipe.execute()

    async def refresh_forever(self, every_s: float) -> None:
        """The refresher task: one pipeline per tick; failures are logged and retried."""
        while True:
            await self._clock.sleep(every_s)
            try:
                await self.refresh()
            except REDIS_ERRORS as exc:
                self._link.failed("refresh", exc)
            else:
                if self._held:
                    self._link.succeeded()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
