"""The codec contract every carrier implements, and the capability record it declares."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Protocol

from gateway.telephony.carriers.events import CarrierCommand, CarrierEvent
from kinds.audio import AudioFormat

FrameKind = Literal["text", "binary"]
"""How a carrier's audio travels: in ``text`` frames (JSON with base64: Twilio, Telnyx, Plivo)
or in ``binary`` frames of raw audio (Vonage). Control messages are JSON text on every carrier."""


class CodecError(ValueError):
    """A command that cannot be encoded, or a codec bound to no stream."""


@dataclass(frozen=True, slots=True)
class CarrierCapabilities:
    """What a carrier's media stream carries and can do; the bridge branches on these."""

    name: str
    audio: AudioFormat
    """The audio format both ways (Twilio: µ-law 8 kHz)."""
    frame_ms: int
    """Duration of one inbound audio frame."""
    marks: bool
    """It echoes position markers once the audio before them has played (marks, checkpoints)."""
    clear: bool
    """It can drop all queued outbound audio at once."""
    dtmf: bool
    """It reports the caller's key presses."""
    frames: FrameKind
    max_frame_size: int = 64 * 1024
    """Bytes of the largest frame accepted; a larger one closes the media socket with 1009.
    Every carrier's frames are a few hundred bytes; 64 KiB leaves room and bounds the work."""
    warm_transfer: bool = False
    """Kura can hold the caller, ring a human and bridge the two (the carrier's REST API and
    conferences: ``transfer_legs``); without it a warm ``transfer_call`` falls back to a cold
    one."""
    formats: tuple[AudioFormat, ...] = ()
    """Every format a call's start event may announce, read per call (Telnyx: PCMU, PCMA or L16
    as the leg negotiated); empty: ``audio`` only."""

    def accepts(self, fmt: AudioFormat | None) -> bool:
        """Whether a call whose start announces ``fmt`` can be carried."""
        return fmt is not None and (fmt == self.audio or fmt in self.formats)

    def for_call(self, fmt: AudioFormat) -> CarrierCapabilities:
        """This record with the call's own format both ways (the bridge builds its chains
        from it); ``ValueError`` for a format the carrier does not announce."""
        if not self.accepts(fmt):
            raise ValueError(f"{self.name} does not carry {fmt}")
        return self if fmt == self.audio else replace(self, audio=fmt)


class CarrierCodec(Protocol):
    """One stream's wire codec: pure and synchronous (no I/O, clock or logging).

    ``decode`` turns one received frame (``str`` for a text frame, ``bytes`` for a binary one)
    into an event, or ``None`` for anything it does not understand, so a hostile peer never
    crashes the bridge. ``encode`` turns a command into the frame's bytes (UTF-8 for text frames);
    it raises ``CodecError`` only for a command built wrongly.
    """

    @property
    def stream_id(self) -> str:
        """The stream this codec is bound to (for logs; commands need no id)."""

    def decode(self, frame: str | bytes) -> CarrierEvent | None: ...

    def encode(self, command: CarrierCommand) -> bytes: ...
