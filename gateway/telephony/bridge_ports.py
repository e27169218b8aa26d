"""The CallBridge's two sides as it sees them, and its per-call input counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import WSMessage, WSMsgType

from gateway import metrics
from gateway.sessions.port import ClientEvent

__all__ = ["CarrierSocket", "EventSink"]


class CarrierSocket(Protocol):
    """The bridge's side of the carrier's WebSocket (an aiohttp ``WebSocketResponse``)."""

    @property
    def closed(self) -> bool: ...

    async def receive(self) -> WSMessage: ...

    async def send_frame(self, message: bytes, opcode: WSMsgType) -> None: ...


class EventSink(Protocol):
    """Where the bridge sends the caller's events: the Conversation's client port."""

    async def receive(self, event: ClientEvent) -> None: ...


@dataclass(slots=True)
class _Counters:
    messages_in: int = 0
    frames_in: int = 0
    bad_input: dict[str, int] = field(default_factory=dict)

    def bad(self, reason: str) -> None:
        self.bad_input[reason] = self.bad_input.get(reason, 0) + 1
        metrics.BAD_INPUT.labels(reason).inc()
