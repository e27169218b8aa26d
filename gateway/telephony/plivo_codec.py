"""Plivo Audio Streams wire codec: JSON text frames ↔ the carrier seam's neutral events and
commands (``gateway.telephony.carriers``), and Plivo's capability record.

Pure and synchronous: no I/O, no clock, no logging. Plivo's frames are camelCase: ``start``
(``start.callId``, ``start.streamId``, ``start.mediaFormat{encoding, sampleRate}`` and a
top-level ``extra_headers`` string carrying what our answer XML put in ``extraHeaders``),
``media`` (``media.payload`` base64), ``dtmf``, ``playedStream`` (a checkpoint reached; one
Plivo article calls it ``played``: both are read), ``clearedAudio`` and ``stop``. We send
``playAudio``, ``checkpoint`` and ``clearAudio``. A clear drops the checkpoints queued before
it without echoing them; the bridge forgets its markers when it clears, so nothing waits on
them. ``decode`` answers ``None`` for anything it does not understand.

Per-call values travel in ``extraHeaders``, which Plivo restricts to alphanumerics: each value
is hex-encoded under a short alphanumeric name (``kurasid``, ``kuratok``, ``kuracall``), and
read back from ``extra_headers`` whatever its wrapping (JSON or ``k=v`` pairs, with or without
Plivo's ``X-PH-`` prefix).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gateway.telephony.carriers.codec import CarrierCapabilities, CodecError
from gateway.telephony.carriers.events import (
    CarrierCommand,
    CarrierEvent,
    ClearAudio,
    DtmfReceived,
    MarkEchoed,
    MediaReceived,
    PlaceMark,
    PlayAudio,
    PlayoutCleared,
    StreamStarted,
    StreamStopped,
)
from gateway.telephony.carriers.fields import Malformed, count, media_frame, obj, text
from kinds.audio import PCMU_8K, AudioFormat

MAX_MARK_NAME_CHARS = 256
MAX_EXTRA_HEADERS_CHARS = 2048  # Plivo caps extraHeaders at 512 bytes
DTMF_DIGITS = frozenset("0123456789*#ABCD")
CONTENT_TYPE = "audio/x-mulaw;rate=8000"  # what the answer XML asks for, both ways
# Our per-call values, as named in extraHeaders (alphanumeric, as Plivo requires).
HEADER_NAMES = {"session_id": "kurasid", "token": "kuratok", "call_sid": "kuracall"}
CALL_PARAMETER = "call_sid"

CAPABILITIES = CarrierCapabilities(
    name="plivo",
    audio=PCMU_8K,  # the <Stream contentType> we ask for
    frame_ms=20,
    marks=True,  # checkpoints, echoed as playedStream once the audio before them has played
    clear=True,  # clearAudio; the checkpoints it drops are never echoed
    dtmf=True,
    frames="text",
    warm_transfer=True,  # a REST-dialled leg, then a <Conference> (plivo_legs)
)

_HEADER = re.compile(r"(?:X-PH-)?(kurasid|kuratok|kuracall)[\"']?\s*[=:]\s*[\"']?([0-9a-fA-F]*)")


def extra_headers(values: Mapping[str, str]) -> str:
    """The ``extraHeaders`` attribute carrying ``values`` (names from ``HEADER_NAMES``)."""
    return ",".join(f"{HEADER_NAMES[k]}={v.encode().hex()}" for k, v in values.items())


def _parameters(data: Mapping[str, Any]) -> dict[str, str]:
    raw = data.get("extra_headers", "")
    if isinstance(raw, dict):
        raw = orjson.dumps(raw).decode()
    if not isinstance(raw, str) or len(raw) > MAX_EXTRA_HEADERS_CHARS:
        raise Malformed("extra_headers")
    names = {short: name for name, short in HEADER_NAMES.items()}
    found: dict[str, str] = {}
    for short, value in _HEADER.findall(raw):
        try:
            found[names[short]] = bytes.fromhex(value).decode()
        except (ValueError, UnicodeDecodeError):
            continue  # a missing token is refused at admission
    return found


def _audio_format(media_format: Mapping[str, Any]) -> AudioFormat | None:
    """µ-law as we ask for; ``None`` (refused at admission) for Plivo's L16 default."""
    encoding = text(media_format, "encoding").split(";")[0].strip()
    sample_rate_hz = count(media_format, "sampleRate")
    return AudioFormat("pcmu", sample_rate_hz) if encoding == "audio/x-mulaw" else None


def _start(data: Mapping[str, Any]) -> StreamStarted:
    start = obj(data, "start")
    params = _parameters(data)
    return StreamStarted(
        stream_id=text(start, "streamId"),
        call_id=params.get(CALL_PARAMETER) or text(start, "callId"),
        custom_parameters=params,
        audio=_audio_format(obj(start, "mediaFormat")),
    )


def _media(data: Mapping[str, Any]) -> MediaReceived:
    media = data.get("media")
    if type(media) is not dict:
        raise Malformed("media")
    encoded, track = media.get("payload"), media.get("track", "inbound")
    if type(encoded) is not str or track != "inbound":
        raise Malformed("media")
    try:
        return MediaReceived(binascii.a2b_base64(encoded, strict_mode=True))
    except (binascii.Error, ValueError) as exc:
        raise Malformed("payload") from exc


def _dtmf(data: Mapping[str, Any]) -> DtmfReceived:
    digit = text(obj(data, "dtmf"), "digit")
    if digit not in DTMF_DIGITS:
        raise Malformed("digit")
    return DtmfReceived(digit)


def _played(data: Mapping[str, Any]) -> MarkEchoed:
    return MarkEchoed(text(data, "name"))


def _cleared(data: Mapping[str, Any]) -> PlayoutCleared:
    return PlayoutCleared()


def _stop(data: Mapping[str, Any]) -> StreamStopped:
    return StreamStopped()


_DECODERS: dict[str, Callable[[Mapping[str, Any]], CarrierEvent]] = {
    "start": _start,
    "media": _media,
    "dtmf": _dtmf,
    "playedStream": _played,
    "played": _played,
    "clearedAudio": _cleared,
    "stop": _stop,
}


def decode(frame: str | bytes) -> CarrierEvent | None:
    """One Plivo frame as an event, or ``None`` if it is malformed or of an unknown kind."""
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    event = data.get("event") if isinstance(data, dict) else None
    decoder = _DECODERS.get(event) if isinstance(event, str) else None
    if decoder is None:
        return None
    try:
        if "sequenceNumber" in data:
            count(data, "sequenceNumber")
        return decoder(data)
    except Malformed:
        return None


class PlivoCodec:
    """Plivo Audio Streams for one stream (``streamId``): decode its frames, encode commands."""

    __slots__ = ("_clear", "_sid")

    _AUDIO_HEAD = (
        b'{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"'
    )

    def __init__(self, stream_id: str) -> None:
        if not isinstance(stream_id, str) or not stream_id:
            raise CodecError("stream_id is required")
        self._sid = stream_id
        self._clear = orjson.dumps({"event": "clearAudio", "streamId": stream_id})

    @classmethod
    def for_stream(cls, started: StreamStarted) -> PlivoCodec:
        return cls(started.stream_id)

    @property
    def stream_id(self) -> str:
        return self._sid

    decode = staticmethod(decode)

    def encode(self, command: CarrierCommand) -> bytes:
        if type(command) is PlayAudio:  # the hot path: fifty a second while the agent talks
            return media_frame(self._AUDIO_HEAD, command.audio)
        match command:
            case PlaceMark(name=name):
                if not name or len(name) > MAX_MARK_NAME_CHARS:
                    raise CodecError("checkpoint name must be 1 to 256 characters")
                return orjson.dumps({"event": "checkpoint", "streamId": self._sid, "name": name})
            case ClearAudio():
                return self._clear
        raise CodecError(f"not a carrier command: {type(command).__name__}")
