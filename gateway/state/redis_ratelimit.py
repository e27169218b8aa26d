"""The per-key rate limit counted in Redis, so "60 per minute" holds across every node.

One Lua script increments the window's counter and gives it an expiry in the same atomic step:
no crash between two calls can leave a key without a TTL (redis/redis#4548), and no two nodes
can both see count 60. While Redis is unreachable each node counts on its own (the in-memory
limiter), so a key may get up to the limit per node: degraded, never unlimited, never refused.
"""

from __future__ import annotations

from typing import cast

from gateway.state.ratelimit import WINDOW_S, MemoryRateLimiter, RateDecision, decide
from gateway.state.redis_link import REDIS_ERRORS, RedisLink
from kinds.clock import Clock

# The counter outlives its window by one more window: a node whose clock runs a little behind
# may still count into it, and it is gone long before its key could be reused.
KEY_TTL_MS = 2 * WINDOW_S * 1000

# KEYS[1] = window counter, ARGV[1] = TTL in ms. Returns the count after this hit. The PTTL
# check also repairs a key that somehow lost its expiry, so none can live forever.
HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class RedisRateLimiter:
    """Fixed one-minute windows in Redis, keyed by the limited key and the window number.

    The window comes from this node's ``Clock`` (not Redis ``TIME``): the count is atomic per
    key and window whichever node asks, so the limit holds exactly; clock skew between nodes
    only moves a request that lands within the skew of a boundary into the neighbouring window,
    which the fixed-window policy already allows. It also keeps one round trip per request and
    lets tests drive windows with a virtual clock.
    """

    def __init__(self, link: RedisLink, clock: Clock) -> None:
        self._link = link
        self._clock = clock
        self._script = link.client.register_script(HIT_SCRIPT)
        self._fallback = MemoryRateLimiter(clock)

    async def hit(self, key: str, limit: int) -> RateDecision:
        if not self._link.usable:
            return await self._fallback.hit(key, limit)
        now = self._clock.now().timestamp()
        window = int(now // WINDOW_S)
        counter = self._link.key("rl", key, str(window))
        try:
            count = await self._script(keys=[counter], args=[KEY_TTL_MS])
        except REDIS_ERRORS as exc:
            self._link.failed("rate_limit", exc)
            return await self._fallback.hit(key, limit)
        self._link.succeeded()
        return decide(int(cast(int, count)), limit, now)
