"""Carrier-neutral media stream events (carrier → us) and commands (us → carrier).

Every carrier's wire protocol (protocols.md §1.5, §2) comes down to these: a stream starts with
its ids, per-call parameters and audio format; caller audio arrives in small frames; position
markers we placed are echoed once the audio before them has played (or been cleared); keys are
pressed; the stream stops. We play audio, place markers and clear what is queued. Audio is raw
``bytes``; the stream and call ids are the carrier's own, named neutrally. Commands carry no
stream id: a codec is bound to one stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from kinds.audio import AudioFormat

# --- events (carrier → us) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamConnected:
    """The socket speaks the carrier's media protocol (a greeting before ``StreamStarted``)."""

    protocol: str = ""
    version: str = ""
    kind: Literal["connected"] = "connected"


@dataclass(frozen=True, slots=True)
class StreamStarted:
    """The stream's metadata; ``custom_parameters`` are the per-call values we gave the carrier
    when we answered the call (our session id and media token among them)."""

    stream_id: str
    call_id: str
    custom_parameters: Mapping[str, str]
    audio: AudioFormat | None
    """The caller audio's format; ``None`` for one we cannot name (the door refuses it)."""
    kind: Literal["start"] = "start"


@dataclass(slots=True)  # not frozen: see below
class MediaReceived:
    """One frame of caller audio (20 ms on every carrier we know), raw bytes in the stream's
    format.

    Fifty of these arrive per second per call, so this one event is not frozen: a frozen
    dataclass sets each field through ``object.__setattr__``, and building one took 0.82 µs
    frozen against 0.18 µs plain. Nothing keeps or mutates it after ``decode``.
    """

    payload: bytes
    kind: Literal["media"] = "media"


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """A key the caller pressed."""

    digit: str
    kind: Literal["dtmf"] = "dtmf"


@dataclass(frozen=True, slots=True)
class MarkEchoed:
    """Everything queued before the marker we placed with this name has played (or was
    cleared): a Twilio/Telnyx ``mark``, a Plivo checkpoint, a Vonage notify."""

    name: str
    kind: Literal["mark"] = "mark"


@dataclass(frozen=True, slots=True)
class PlayoutCleared:
    """The carrier confirms a clear (Plivo's ``clearedAudio``, Vonage's ``websocket:cleared``).
    Informational: the bridge forgets its markers when it clears, so nothing waits for this, nor
    for the markers a carrier drops on a clear without echoing them (Plivo's checkpoints)."""

    kind: Literal["cleared"] = "cleared"


@dataclass(frozen=True, slots=True)
class StreamStopped:
    """Last event: the stream ended (caller hung up, call redirected, ...)."""

    kind: Literal["stop"] = "stop"


CarrierEvent = (
    StreamConnected
    | StreamStarted
    | MediaReceived
    | DtmfReceived
    | MarkEchoed
    | PlayoutCleared
    | StreamStopped
)


# --- commands (us → carrier) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlayAudio:
    """Queue raw audio, in the carrier's format, for playback to the caller."""

    audio: bytes
    kind: Literal["play"] = "play"


@dataclass(frozen=True, slots=True)
class PlaceMark:
    """Ask the carrier to echo ``name`` once everything queued before it has played."""

    name: str
    kind: Literal["mark"] = "mark"


@dataclass(frozen=True, slots=True)
class ClearAudio:
    """Drop all queued outbound audio now (barge-in)."""

    kind: Literal["clear"] = "clear"


CarrierCommand = PlayAudio | PlaceMark | ClearAudio
