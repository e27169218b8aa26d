"""Opening an OpenAI Realtime WebSocket: one attempt, retried inside the policy's bounds by the
provider toolkit (``providers.toolkit.retry``).

An attempt is ready only once the server's first event, ``session.created``, has arrived: a
server that accepts the upgrade and then sends an ``error`` or closes (1008) has refused us just
as surely as an HTTP 401, and must not be retried if the reason is fatal. aiohttp and OS errors
are translated here into ``providers.errors`` (``raise ... from``); messages never hold the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from kinds.clock import Clock
from providers.errors import ProviderProtocolError, ProviderUnavailable
from providers.openai_realtime import faults, wire
from providers.toolkit.retry import RetryPolicy, connect_with_retry

CLOSE_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0)
"""Wait at most 1 s for the server's close reply: a stalled server may never send one, and
the reconnect (the caller's silence) must not wait on it."""


@dataclass(frozen=True, slots=True)
class ConnectPolicy:
    """Where and how to connect, and how hard to try."""

    url: str
    api_key: str = field(repr=False)  # never in logs or reprs
    model: str
    retry: RetryPolicy
    """Per attempt from TCP connect to ``session.created``; the budget covers all attempts and
    back-off together (row 7: silence before the apology stays bounded)."""
    max_message_bytes: int

    def endpoint(self) -> URL:
        return URL(self.url).update_query(model=self.model)


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
    return await connect_with_retry(
        lambda: open_once(http, policy), policy.retry, clock, provider="openai_realtime"
    )


def reconnect_policy(policy: ConnectPolicy, budget_s: float | None) -> ConnectPolicy:
    """The policy of one reconnect: the connect policy's attempts, inside ``budget_s``."""
    if budget_s is None:
        return policy
    retry = policy.retry
    quick = RetryPolicy(
        max_attempts=retry.max_attempts,
        attempt_timeout_s=min(retry.attempt_timeout_s, budget_s),
        budget_s=budget_s,
        first_backoff_s=min(retry.first_backoff_s, budget_s / 4),
        max_backoff_s=retry.max_backoff_s,
        jitter=retry.jitter,
    )
    return dataclasses.replace(policy, retry=quick)
