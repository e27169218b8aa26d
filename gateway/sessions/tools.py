"""Assistant tools answered by webhooks: the model calls a function, we POST it, the JSON
answer goes back to the model.

Every delivery is signed so receivers can check it came from this gateway and is fresh::

    X-Kura-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
    X-Kura-Delivery: <uuid, the same on every retry of one call>

A receiver recomputes v1 over the raw body and rejects timestamps older than a few minutes.
Failures never hang a turn: they reach the model as ``{"error": ...}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from kinds.clock import Clock
from providers.events import ToolCall

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 64 * 1024
RETRY_DELAYS_S = (0.2, 0.5)  # connection errors only: the request never reached the receiver


def sign(secret: bytes, timestamp_s: int, body: bytes) -> str:
    """The ``X-Kura-Signature`` value for a body sent at ``timestamp_s``."""
    digest = hmac.new(secret, str(timestamp_s).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp_s},v1={digest.hexdigest()}"


def verify(
    secret: bytes, header: str, body: bytes, *, now_s: float, tolerance_s: float = 300
) -> bool:
    """What a receiver does (and what our tests do): check the signature and its age."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp_s = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now_s - timestamp_s) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp_s, body), header)


@dataclass(frozen=True, slots=True)
class ToolEndpoint:
    name: str
    webhook_url: str


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling the tool: goes into every payload."""

    session_id: str
    assistant_id: int
    phone_number: str | None = None
    metadata: dict[str, Any] | None = None
    """The session's ``metadata``, as the app gave it at creation."""


class WebhookTools:
    """Delivers tool calls to their webhooks; one per gateway, shared by every session."""

    def __init__(self, secret: bytes | None, clock: Clock, *, timeout_s: float = 5.0) -> None:
        self._http: aiohttp.ClientSession | None = None
        self._secret = secret
        self._clock = clock
        self._timeout_s = timeout_s

    async def call(
        self, endpoint: ToolEndpoint, call: ToolCall, context: CallContext
    ) -> dict[str, Any]:
        if self._secret is None:
            return {"error": "tool webhooks are disabled: KURA_WEBHOOK_SECRET is not set"}
        body = self._payload(call, context)
        delivery = str(uuid.uuid4())
        for attempt, delay_s in enumerate((*RETRY_DELAYS_S, None)):
            try:
                return await self._post(endpoint, body, delivery)
            except aiohttp.ClientConnectionError:
                if delay_s is None:
                    break
                log.info("tool webhook unreachable, retrying", extra={"attempt": attempt + 1})
                await self._clock.sleep(delay_s)
            except TimeoutError:
                return {"error": f"tool {call.name!r} timed out after {self._timeout_s:g} s"}
        return {"error": f"tool {call.name!r} could not be reached"}

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop; shared by every session of this gateway.
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    def _payload(self, call: ToolCall, context: CallContext) -> bytes:
        payload: dict[str, Any] = {
            "tool_name": call.name,
            "tool_args": call.arguments,
            "assistant_id": context.assistant_id,
            "timestamp": _iso_ms(self._clock.now()),
            "session_id": context.session_id,
        }
        if context.phone_number:
            payload["phone_number"] = context.phone_number
        if context.metadata:
            payload["metadata"] = context.metadata
        return json.dumps(payload).encode()

    async def _post(self, endpoint: ToolEndpoint, body: bytes, delivery: str) -> dict[str, Any]:
        assert self._secret is not None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "kura-gateway",
            "X-Kura-Signature": sign(self._secret, int(self._clock.now().timestamp()), body),
            "X-Kura-Delivery": delivery,
        }
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        async with self._client().post(
            endpoint.webhook_url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            raw = await response.content.read(MAX_RESULT_BYTES + 1)
            if response.status >= 300:
                return {"error": f"tool {endpoint.name!r} answered HTTP {response.status}"}
        return _result(raw)


def _result(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_RESULT_BYTES:
        return {"error": "tool result larger than 64 KiB"}
    try:
        value = json.loads(raw) if raw.strip() else None
    except ValueError:
        return {"result": raw.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"result": value}


def _iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
