"""Concurrent-call slots: how many calls an assistant, a number and the deployment carry now.

A call takes one slot under each of its keys (``global``, ``assistant:<id>``, ``number:<id>``)
in one atomic step, or none at all when any key is at its limit. Each slot is a lease that
lapses on its own (``lease_s``: the call's ring time plus its hard duration limit), so a slot
lost by every other path (a node killed before it could release) still comes back; the normal
paths (a terminal status, the stream's end, a carrier error, the lost-session sweep) release
it at once. In Redis the slots hold across nodes; while Redis is unreachable each node counts
its own calls (degraded, never unlimited).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, cast

from gateway.state.redis_link import REDIS_ERRORS, RedisLink
from kinds.clock import Clock

UNLIMITED = 2**31 - 1


def slot_keys(
    assistant_id: int, number_id: int | None, limits: Mapping[str, int | None]
) -> dict[str, int]:
    """The keys a call holds and each one's limit (``UNLIMITED`` where none is set), so the
    count is right whenever a limit is set later."""
    keys = {"global": limits.get("global"), f"assistant:{assistant_id}": limits.get("assistant")}
    if number_id is not None:
        keys[f"number:{number_id}"] = limits.get("number")
    return {key: limit or UNLIMITED for key, limit in keys.items()}


class CallSlots(Protocol):
    async def acquire(self, holder: str, limits: Mapping[str, int], lease_s: float) -> str | None:
        """Take a slot under every key for ``holder``; ``None`` if taken, else the first key
        at its limit (nothing is taken then). Taking again what ``holder`` holds succeeds."""
        ...

    async def release(self, holder: str) -> None:
        """Give back every slot ``holder`` holds (nothing if it holds none)."""
        ...

    async def count(self, key: str) -> int:
        """Slots held under ``key`` now."""
        ...


class MemoryCallSlots:
    """One node's slots."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._slots: dict[str, dict[str, float]] = {}  # key → holder → lease end (wall seconds)
        self._held: dict[str, list[str]] = {}

    def _live(self, key: str, now: float) -> dict[str, float]:
        slots = self._slots.setdefault(key, {})
        for holder in [h for h, until in slots.items() if until <= now]:
            del slots[holder]
            self._held.pop(holder, None)  # a lapsed lease is gone under every key
        return slots

    async def acquire(self, holder: str, limits: Mapping[str, int], lease_s: float) -> str | None:
        now = self._clock.now().timestamp()
        for key, limit in limits.items():
            slots = self._live(key, now)
            if holder not in slots and len(slots) >= limit:
                return key
        for key in limits:
            self._slots[key][holder] = now + lease_s
        self._held[holder] = list(limits)
        return None

    async def release(self, holder: str) -> None:
        for key in self._held.pop(holder, []):
            self._slots.get(key, {}).pop(holder, None)

    async def count(self, key: str) -> int:
        return len(self._live(key, self._clock.now().timestamp()))


# KEYS[1..n] = slot sets, KEYS[n+1] = the holder's index; ARGV = now ms, lease end ms, lease ms,
# holder, then the n limits. Returns 0 when taken, else the 1-based index of the full key.
ACQUIRE_SCRIPT = """
local n = #KEYS - 1
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  if not redis.call('ZSCORE', KEYS[i], ARGV[4])
      and redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[4 + i]) then
    return i
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[4])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
  redis.call('SADD', KEYS[n + 1], KEYS[i])
end
redis.call('PEXPIRE', KEYS[n + 1], ARGV[3])
return 0
"""

# KEYS[1] = the holder's index; ARGV[1] = holder.
RELEASE_SCRIPT = """
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('ZREM', key, ARGV[1])
end
redis.call('DEL', KEYS[1])
return 0
"""


class RedisCallSlots:
    """Slots in Redis sorted sets (member: holder, score: lease end), shared by every node."""

    def __init__(self, link: RedisLink, clock: Clock) -> None:
        self._link = link
        self._clock = clock
        self._acquire = link.client.register_script(ACQUIRE_SCRIPT)
        self._release = link.client.register_script(RELEASE_SCRIPT)
        self._fallback = MemoryCallSlots(clock)

    async def acquire(self, holder: str, limits: Mapping[str, int], lease_s: float) -> str | None:
        if not self._link.usable:
            return await self._fallback.acquire(holder, limits, lease_s)
        names = list(limits)
        now_ms = int(self._clock.now().timestamp() * 1000)
        lease_ms = int(lease_s * 1000)
        keys = [self._link.key("slots", name) for name in names]
        keys.append(self._link.key("slot-holder", holder))
        args: list[str | int] = [now_ms, now_ms + lease_ms, lease_ms, holder, *limits.values()]
        try:
            full = int(cast(int, await self._acquire(keys=keys, args=args)))
        except REDIS_ERRORS as exc:
            self._link.failed("call_slots", exc)
            return await self._fallback.acquire(holder, limits, lease_s)
        self._link.succeeded()
        return None if full == 0 else names[full - 1]

    async def release(self, holder: str) -> None:
        await self._fallback.release(holder)
        try:
            await self._release(keys=[self._link.key("slot-holder", holder)], args=[holder])
        except REDIS_ERRORS as exc:
            self._link.failed("call_slots", exc)  # the lease lapses on its own
            return
        self._link.succeeded()

    async def count(self, key: str) -> int:
        now_ms = int(self._clock.now().timestamp() * 1000)
        name = self._link.key("slots", key)
        return int(await self._link.client.zcount(name, now_ms + 1, "+inf"))
