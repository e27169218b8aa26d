"""The CallBridge's two sides as it sees them, what a call needs of and offers a carrier, and
the bridge's per-call input counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import WSMessage, WSMsgType

from gateway import metrics
from gateway.sessions.plan import ClientTraits
from gateway.sessions.port import ClientEvent
from gateway.telephony.carriers.codec import CarrierCapabilities
from media.formats import CARRIER_FORMATS

__all__ = ["CallCounters", "CarrierSocket", "EventSink", "call_traits", "check_supported"]


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
class CallCounters:
    messages_in: int = 0
    frames_in: int = 0
    bad_input: dict[str, int] = field(default_factory=dict)

    def bad(self, reason: str) -> None:
        self.bad_input[reason] = self.bad_input.get(reason, 0) + 1
        metrics.BAD_INPUT.labels(reason).inc()


def call_traits(capabilities: CarrierCapabilities) -> ClientTraits:
    """What a call on this carrier speaks and does itself, for the session plan."""
    return ClientTraits(
        audio=capabilities.audio,
        # The inbound chain decodes the carrier's audio for its VAD anyway, and the outbound
        # chain encodes it: resampling to or from any PCM16 rate happens within those steps.
        converts_audio=True,
        detects_turns=True,  # the inbound chain's VAD (there for barge-in) marks the turns
        answers=frozenset({"end_call", "transfer_call"}),
    )


def check_supported(capabilities: CarrierCapabilities) -> None:
    """The bridge plays and barges in at the played position: it needs these of a carrier."""
    if capabilities.audio not in CARRIER_FORMATS:
        raise ValueError(f"the media chains cannot carry {capabilities.name}'s audio")
    if not (capabilities.marks and capabilities.clear):
        # Without echoed marks the played position could only be guessed from the wall clock.
        raise ValueError(f"{capabilities.name} must echo marks and clear its playout")
