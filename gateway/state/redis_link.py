"""One Redis client per process, and what this node believes about reaching it.

Every Redis-backed part degrades instead of failing when Redis is unreachable (README, "Running
several nodes"). ``RedisLink`` is the shared memory of that: after a failure, callers on the
request path skip Redis for ``RETRY_AFTER_S`` (so an outage costs each request nothing, not a
connect attempt), and the warning about it is itself rate-limited so an outage cannot flood logs.
"""

from __future__ import annotations

import logging

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from kinds.clock import Clock

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1.0  # request paths try Redis again this long after a failure
WARN_EVERY_S = 30.0  # at most one "unreachable" warning per this many seconds
SOCKET_TIMEOUT_S = 1.0  # a stalled Redis must cost a request at most this, never hang it
# redis-py 8 caps a pool at 100 connections and, past that, fails the command at once ("Too
# many connections"): a burst of 200 requests ran degraded. Ours queues for a free connection
# (at most SOCKET_TIMEOUT_S) instead, as a burst's commands finish in a millisecond or two.
MAX_CONNECTIONS = 32

REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
"""What a Redis call can raise when the server is away (redis-py wraps most, not all)."""


def open_redis(url: str) -> Redis:
    """A client that fails fast (short timeouts, callers have a fallback), with one immediate
    retry: after Redis restarts, each pooled connection is dead until used once, and without
    the retry that first use would fail a request that a fresh connection serves at once."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=10,
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool


class RedisLink:
    """The clients, the key prefix, and whether Redis answered lately.

    Pub/sub gets its own client (``subscriber``): a subscription's connection that died with
    Redis, handed back to a shared pool, would fail the next ordinary command after Redis
    returns, pushing requests into their fallbacks for no reason.
    """

    def __init__(
        self, client: Redis, prefix: str, clock: Clock, *, subscriber: Redis | None = None
    ) -> None:
        self.client = client
        self.subscriber = subscriber or client
        self.prefix = prefix
        self._clock = clock
        self._skip_until = 0.0
        self._next_warning = 0.0
        self._down = False

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def usable(self) -> bool:
        """False for a moment after a failure: request paths use their fallback instead."""
        return self._clock.monotonic() >= self._skip_until

    @property
    def down(self) -> bool:
        """Whether the last Redis call failed."""
        return self._down

    def failed(self, operation: str, exc: BaseException) -> None:
        """Record a failed call; warn at most once per ``WARN_EVERY_S``."""
        now = self._clock.monotonic()
        self._skip_until = now + RETRY_AFTER_S
        self._down = True
        log.debug("redis call failed", extra={"operation": operation, "error": repr(exc)})
        if now >= self._next_warning:
            self._next_warning = now + WARN_EVERY_S
            log.warning(
                "redis unreachable: running degraded",
                extra={"operation": operation, "error": type(exc).__name__},
            )

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            self._skip_until = 0.0
            log.info("redis reachable again")

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.subscriber is not self.client:
            await self.subscriber.aclose()

    async def ping(self) -> bool:
        try:
            await self.client.ping()
        except REDIS_ERRORS as exc:
            self.failed("ping", exc)
            return False
        self.succeeded()
        return True
