"""The control bus across nodes: an end request reaches the node holding the session.

``request_end`` looks the owner up in the directory and publishes to that node's channel; each
node listens on its own channel and ends the session locally. Pub/sub delivers at most once and
drops messages while a listener is reconnecting, so each node also polls the database for the
sessions it holds that another node has already marked ended (``SessionService.end`` finishes
the row whatever the bus did): a missed message costs one poll interval, not a stuck session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from gateway.state.control import EndHandler, StateUnavailable
from gateway.state.redis_directory import RedisSessionDirectory
from gateway.state.redis_link import REDIS_ERRORS, RedisLink
from gateway.store import Store
from kinds.clock import Clock

log = logging.getLogger(__name__)

LISTEN_WAIT_S = 1.0  # how long one read waits for a message before checking the link again
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0


class RedisControlBus:
    """End requests over Redis pub/sub, one channel per node, with a database poll behind it."""

    def __init__(
        self, link: RedisLink, node_id: str, directory: RedisSessionDirectory, clock: Clock
    ) -> None:
        self._link = link
        self._node_id = node_id
        self._directory = directory
        self._clock = clock
        self._handler: EndHandler | None = None
        self._backoff_s = BACKOFF_FIRST_S
        self.listening = asyncio.Event()
        """Set while subscribed (tests wait on it rather than sleeping)."""

    def on_end(self, handler: EndHandler) -> None:
        self._handler = handler

    def _channel(self, node_id: str) -> str:
        return self._link.key("bus", node_id)

    async def request_end(self, session_id: str, reason: str) -> bool:
        """End the session here if this node holds it, else tell its owner; True if one took
        it. False leaves the owner to notice the ended row by polling."""
        if self._handler is not None and await self._handler(session_id, reason):
            return True
        try:
            owner = await self._directory.owner(session_id)
        except StateUnavailable:
            return False
        if owner is None or owner == self._node_id:
            return False
        message = json.dumps({"session_id": session_id, "reason": reason})
        try:
            receivers = int(await self._link.client.publish(self._channel(owner), message))
        except REDIS_ERRORS as exc:
            self._link.failed("publish", exc)
            return False
        return receivers > 0

    async def listen_forever(self) -> None:
        """The listener task: subscribe, deliver, and resubscribe with backoff after a failure
        (the backoff starts over once a subscription succeeds)."""
        while True:
            try:
                await self._listen()
            except REDIS_ERRORS as exc:
                self._link.failed("subscribe", exc)
            await self._clock.sleep(self._backoff_s)
            self._backoff_s = min(2 * self._backoff_s, BACKOFF_MAX_S)

    async def _listen(self) -> None:
        pubsub = self._link.subscriber.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._channel(self._node_id))
            self._link.succeeded()
            self._backoff_s = BACKOFF_FIRST_S
            self.listening.set()
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=LISTEN_WAIT_S
                )
                if message is not None:
                    await self._deliver(message.get("data"))
        finally:
            self.listening.clear()
            with contextlib.suppress(*REDIS_ERRORS):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py lacks hints

    async def _deliver(self, data: Any) -> None:
        try:
            request = json.loads(data)
            session_id, reason = str(request["session_id"]), str(request["reason"])
        except (ValueError, TypeError, KeyError):
            log.warning("control bus message ignored: malformed")
            return
        if self._handler is not None:
            await self._handler(session_id, reason)

    async def poll_forever(self, store: Store, every_s: float) -> None:
        """The fallback task: end held sessions that the database says are over."""
        while True:
            await self._clock.sleep(every_s)
            try:
                await self.poll_once(store)
            except Exception:
                log.exception("control poll failed")

    async def poll_once(self, store: Store) -> int:
        held = self._directory.held
        if not held or self._handler is None:
            return 0
        ended = await store.sessions.ended_among(held)
        for session_id, reason in ended.items():
            await self._handler(session_id, reason)
        return len(ended)
