"""Opening an OpenAI Realtime WebSocket: one attempt, and bounded retries with backoff.

An attempt is ready only once the server's first event, ``session.created``, has arrived: a
server that accepts the upgrade and then sends an ``error`` or closes (1008) has refused us just
as surely as an HTTP 401, and must not be retried if the reason is fatal. aiohttp and OS errors
are translated here into ``providers.errors`` (``raise ... from``); messages never hold the key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
from yarl import URL

from kinds.clock import Clock
from providers.errors import ProviderError, ProviderProtocolError, ProviderUnavailable
from providers.openai_realtime import faults, wire

log = logging.getLogger(__name__)

T = TypeVar("T")

CLOSE_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0)
"""Wait at most 1 s for the server's close reply: a stalled server may never send one, and
the reconnect (the caller's silence) must not wait on it."""


@dataclass(frozen=True, slots=True)
class ConnectPolicy:
    """Where and how to connect, and how hard to try."""

    url: str
    api_key: str = field(repr=False)  # never in logs or reprs
    model: str
    connect_timeout_s: float
    """Per attempt, from TCP connect to ``session.created``."""
    max_attempts: int
    budget_s: float
    """All attempts and backoff together (row 7: silence before the apology stays bounded)."""
    backoff_s: float
    """First pause between attempts; doubles each time."""
    max_message_bytes: int

    def endpoint(self) -> URL:
        return URL(self.url).update_query(model=self.model)


async def with_deadline(clock: Clock, timeout_s: float, work: Awaitable[T]) -> T:
    """``work``'s result, or ``TimeoutError`` once ``timeout_s`` pass on ``clock``.

    Unlike ``asyncio.timeout`` this honours a virtual clock, so tests need not wait.
    """
    work_task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        await asyncio.wait({work_task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work_task, timer):
            task.cancel()
        await asyncio.gather(work_task, timer, return_exceptions=True)
    if work_task.cancelled():
        raise TimeoutError
    return work_task.result()


async def open_once(
    http: aiohttp.ClientSession, policy: ConnectPolicy
) -> aiohttp.ClientWebSocketResponse:
    """One attempt: the upgrade, then ``session.created``. Raises ``ProviderError``."""
    headers = {"Authorization": f"Bearer {policy.api_key}"}
    try:
        ws = await http.ws_connect(
            policy.endpoint(),
            headers=headers,
            max_msg_size=policy.max_message_bytes,
            autoping=True,
            timeout=CLOSE_TIMEOUT,
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise faults.from_handshake_status(exc.status) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise ProviderUnavailable("could not reach the provider", code="connect_failed") from exc
    try:
        await _await_session_created(ws)
    except BaseException:
        await ws.close()
        raise
    return ws


async def _await_session_created(ws: aiohttp.ClientWebSocketResponse) -> None:
    msg = await ws.receive()
    if msg.type is aiohttp.WSMsgType.TEXT:
        event = wire.decode(msg.data)
        if event["type"] == "session.created":
            return
        if event["type"] == "error":
            failure = faults.from_error_event(event.get("error") or {})
            raise failure or ProviderProtocolError(
                "the provider refused the session", code=str(event["error"].get("code"))
            )
        raise ProviderProtocolError("expected session.created first", code="bad_first_event")
    if msg.type is aiohttp.WSMsgType.ERROR:
        raise ProviderUnavailable("the provider connection broke", code="connect_failed")
    raise faults.from_close_code(ws.close_code)


async def open_with_retry(
    http: aiohttp.ClientSession, policy: ConnectPolicy, clock: Clock
) -> aiohttp.ClientWebSocketResponse:
    """Attempts until one works, a fatal error, ``max_attempts`` or the time budget runs out."""
    started = clock.monotonic()
    backoff_s = policy.backoff_s
    for attempt in range(1, policy.max_attempts + 1):
        remaining_s = policy.budget_s - (clock.monotonic() - started)
        timeout_s = min(policy.connect_timeout_s, remaining_s)
        try:
            return await with_deadline(clock, timeout_s, open_once(http, policy))
        except TimeoutError as exc:
            failure: ProviderError = ProviderUnavailable(
                "the provider did not answer in time", code="connect_timeout"
            )
            failure.__cause__ = exc
        except ProviderError as exc:
            if not exc.retryable:
                raise
            failure = exc
        log.warning(
            "openai realtime connect attempt failed",
            extra={"attempt": attempt, "error_code": failure.code},
        )
        spent_s = clock.monotonic() - started
        if attempt == policy.max_attempts or spent_s + backoff_s >= policy.budget_s:
            raise failure
        await clock.sleep(backoff_s)
        backoff_s *= 2
    raise AssertionError("unreachable")  # pragma: no cover
