"""The carrier registry: name → how to open a codec, its capabilities, how its media handshake
is checked and where its start event carries our session id and single-use media token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from gateway.telephony.carriers.codec import CarrierCapabilities, CarrierCodec
from gateway.telephony.carriers.events import CarrierEvent, StreamStarted

Decoder = Callable[[str | bytes], CarrierEvent | None]
HandshakeCheck = Callable[[Mapping[str, str]], bool]
"""Whether the media socket's upgrade request (its headers) really comes from the carrier."""
AfterCall = Callable[[StreamStarted, bool], Awaitable[None]]
"""What the carrier needs once a call's conversation is over and its last audio has played,
before the socket closes: ``(started, caller_gone)``; e.g. a REST hang-up or transfer."""


@dataclass(frozen=True, slots=True)
class StartParameters:
    """The names under which the start event's custom parameters carry our admission data."""

    session_id: str = "session_id"
    token: str = "token"  # noqa: S105 - the name of a parameter, not a secret

    def read(self, started: StreamStarted) -> tuple[str, str]:
        """``(session_id, token)`` from the start event; empty strings where missing."""
        params = started.custom_parameters
        return params.get(self.session_id, ""), params.get(self.token, "")


@dataclass(frozen=True, slots=True)
class Carrier:
    """One registered carrier, as the media socket door sees it."""

    capabilities: CarrierCapabilities
    decode: Decoder
    """Reads frames before the stream is known (up to its ``StreamStarted``)."""
    open_codec: Callable[[StreamStarted], CarrierCodec]
    """The codec bound to the stream that started."""
    handshake: HandshakeCheck | None
    """``None`` when the carrier is not configured: its media socket then answers 503."""
    title: str
    """Its name as people write it, for error messages."""
    config_hint: str = ""
    """The setting that configures it, for the 503 message."""
    start_parameters: StartParameters = StartParameters()
    after_call: AfterCall | None = None
    """``None``: closing the socket is all (Twilio and Telnyx go on with their TwiML/TeXML)."""

    @property
    def name(self) -> str:
        return self.capabilities.name


def carrier_registry(*carriers: Carrier) -> Mapping[str, Carrier]:
    """The carriers by name (the ``{carrier}`` of ``/telephony/{carrier}/media``)."""
    registry = {carrier.name: carrier for carrier in carriers}
    if len(registry) != len(carriers):
        raise ValueError("two carriers share a name")
    return registry
