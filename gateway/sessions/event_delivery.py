"""Delivers the outbox's post-call events: signed POSTs, retried with backoff, across nodes.

Signed as tool webhooks are (``X-Kura-Signature: t=…,v1=…``); ``X-Kura-Delivery`` is the
event id, the same on every attempt, so receivers drop duplicates. A 2xx answer delivers the
event; anything else (or no answer) retries after ``retry_base_s`` doubling per attempt up to
``RETRY_CAP_S``, until the event is ``give_up_s`` old. Each node runs one worker; rows are
leased (``OutboxRepository.claim``), and a stopping node hands its leases back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import aiohttp
import orjson

from gateway.sessions.tools import sign
from gateway.store import Store
from gateway.store.models import OutboxEvent
from kinds.clock import Clock

log = logging.getLogger(__name__)

POLL_S = 2.0  # events made on another node are found within this
LEASE_S = 60.0  # longer than one attempt (its time-out) with room to spare
BATCH = 20
RETRY_CAP_S = 600.0


class EventDelivery:
    """One node's delivery worker; ``wake`` when an event was just stored here."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        node_id: str,
        secret: bytes | None,
        *,
        retry_base_s: float,
        give_up_s: float,
        timeout_s: float,
    ) -> None:
        self._store = store
        self._clock = clock
        self._node_id = node_id
        self._secret = secret
        self._retry_base_s = retry_base_s
        self._give_up = timedelta(seconds=give_up_s)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._wake = asyncio.Event()
        self.delivered = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; a failing database costs a poll, not the worker."""
        async with aiohttp.ClientSession() as http:
            try:
                while True:
                    try:
                        busy = await self._round(http)
                    except Exception:
                        log.exception("event delivery round failed")
                        busy = False
                    if not busy:
                        await self._idle()
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._store.outbox.release(self._node_id))

    async def _idle(self) -> None:
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep(POLL_S))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    async def _round(self, http: aiohttp.ClientSession) -> bool:
        now = self._clock.now()
        rows = await self._store.outbox.claim(
            self._node_id, now, now + timedelta(seconds=LEASE_S), limit=BATCH
        )
        for row in rows:
            await self._attempt(http, row)
        return len(rows) == BATCH

    async def _attempt(self, http: aiohttp.ClientSession, row: OutboxEvent) -> None:
        error = await self._post(http, row)
        now = self._clock.now()
        attempts = row.attempts + 1
        if error is None:
            await self._store.outbox.delivered(row.id, now)
            self.delivered += 1
            return
        if now - row.created_at >= self._give_up:
            log.warning("post-call event given up", extra={"event_id": row.id, "error": error})
            await self._store.outbox.give_up(row.id, attempts, now, error)
            return
        delay_s = min(self._retry_base_s * 2 ** (attempts - 1), RETRY_CAP_S)
        log.info("post-call event retried later", extra={"event_id": row.id, "error": error})
        await self._store.outbox.retry_at(row.id, attempts, now + timedelta(seconds=delay_s), error)

    async def _post(self, http: aiohttp.ClientSession, row: OutboxEvent) -> str | None:
        """None on a 2xx answer, else what went wrong (no URL or secret in it)."""
        if self._secret is None:
            return "KURA_WEBHOOK_SECRET is not set"
        body = orjson.dumps(row.body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "kura-gateway",
            "X-Kura-Signature": sign(self._secret, int(self._clock.now().timestamp()), body),
            "X-Kura-Delivery": row.id,
            "X-Kura-Event": row.type,
        }
        try:
            async with http.post(
                row.url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except TimeoutError:
            return "timed out"
        except aiohttp.ClientError as exc:
            return type(exc).__name__
