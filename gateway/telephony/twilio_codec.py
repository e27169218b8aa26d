"""Twilio Media Streams wire codec: JSON text frames ↔ the carrier seam's neutral events and
commands (``gateway.telephony.carriers``), and Twilio's capability record.

Pure and synchronous: no I/O, no clock, no logging. ``decode`` turns one text frame from Twilio
into a ``CarrierEvent`` (or ``None`` for anything it does not understand: bad JSON, an unknown
event, a wrong type, bad base64), so a hostile or buggy peer can never crash the bridge.
``TwilioCodec(stream_sid).encode`` turns a ``CarrierCommand`` into the text frame Twilio expects
for that stream; it raises ``CodecError`` only for a command the caller built wrongly. Audio is
raw ``bytes`` here; base64 exists only on the wire (protocols.md §1.5).

This runs for every 20 ms frame of every call, so it uses orjson (about 4x faster than the
standard json module both ways) and ``binascii``'s strict base64 directly (``base64.b64decode``
with ``validate=True`` adds a regular-expression pass over the payload). The outbound media
frame is assembled from bytes fixed per stream around the base64 payload: the same bytes
``orjson.dumps`` makes of the frame's object, without building the object fifty times a second.
"""

from __future__ import annotations

import binascii
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
    StreamConnected,
    StreamStarted,
    StreamStopped,
)
from kinds.audio import PCMU_8K, AudioEncoding, AudioFormat

MAX_MARK_NAME_CHARS = 256  # our marks are "item:offset"; anything longer is a bug upstream

CAPABILITIES = CarrierCapabilities(
    name="twilio",
    audio=PCMU_8K,  # bidirectional streams are µ-law 8 kHz only
    frame_ms=20,
    marks=True,  # echoed in send order; a clear echoes every pending one
    clear=True,
    dtmf=True,
    frames="text",  # binary frames to Twilio are ignored (warning 31950)
)

_ENCODINGS: dict[str, AudioEncoding] = {
    "audio/x-mulaw": "pcmu",
    "audio/x-alaw": "pcma",
    "audio/x-l16": "pcm16",  # SignalWire's L16 streams (protocols.md §2.4)
}


class _Malformed(Exception):
    """Internal: this frame is not one we understand; ``decode`` answers ``None``."""


# --- decoding ----------------------------------------------------------------------------------


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _Malformed(key)
    return value


def _str(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise _Malformed(key)
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    """Counters arrive as strings ("3"), format numbers as JSON numbers; accept both."""
    value = data.get(key)
    if type(value) is str:  # exact types: cheaper per frame, and a bool is not an int here
        if value.isdigit() and value.isascii() and len(value) <= 18:
            return int(value)
    elif type(value) is int:
        return value
    raise _Malformed(key)


def _check_seq(data: Mapping[str, Any]) -> None:
    """Every frame but ``connected`` carries a counter; a bad one marks a frame not Twilio's."""
    if "sequenceNumber" in data:
        _int(data, "sequenceNumber")


def _connected(data: Mapping[str, Any]) -> StreamConnected:
    return StreamConnected(protocol=_str(data, "protocol", ""), version=_str(data, "version", ""))


def _audio_format(media_format: Mapping[str, Any]) -> AudioFormat | None:
    encoding = _ENCODINGS.get(_str(media_format, "encoding"))
    sample_rate_hz = _int(media_format, "sampleRate")
    if encoding is None or _int(media_format, "channels") != 1:
        return None
    return AudioFormat(encoding, sample_rate_hz)


def _start(data: Mapping[str, Any]) -> StreamStarted:
    start = _obj(data, "start")
    tracks = start.get("tracks", [])
    params = start.get("customParameters", {})
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise _Malformed("tracks")
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise _Malformed("customParameters")
    _str(start, "accountSid", "")
    _check_seq(data)
    return StreamStarted(
        stream_id=_str(start, "streamSid", data.get("streamSid")),
        call_id=_str(start, "callSid"),
        custom_parameters=dict(params),
        audio=_audio_format(_obj(start, "mediaFormat")),
    )


def _media(data: Mapping[str, Any]) -> MediaReceived:
    # The hot path: every check of the other decoders, written out inline.
    media = data.get("media")
    if type(media) is not dict:
        raise _Malformed("media")
    text, sid, track = media.get("payload"), data.get("streamSid"), media.get("track", "inbound")
    if type(text) is not str or type(sid) is not str or type(track) is not str:
        raise _Malformed("media")
    if "chunk" in media:
        _int(media, "chunk")
    if "timestamp" in media:
        _int(media, "timestamp")
    if "sequenceNumber" in data:
        _int(data, "sequenceNumber")
    try:
        # strict: the lenient default silently skips non-alphabet bytes and yields wrong audio.
        return MediaReceived(binascii.a2b_base64(text, strict_mode=True))
    except (binascii.Error, ValueError) as exc:
        raise _Malformed("payload") from exc


def _dtmf(data: Mapping[str, Any]) -> DtmfReceived:
    dtmf = _obj(data, "dtmf")
    _str(data, "streamSid")
    _str(dtmf, "track", "inbound_track")
    _check_seq(data)
    return DtmfReceived(_str(dtmf, "digit"))


def _mark(data: Mapping[str, Any]) -> MarkEchoed:
    _str(data, "streamSid")
    _check_seq(data)
    return MarkEchoed(_str(_obj(data, "mark"), "name"))


def _stop(data: Mapping[str, Any]) -> StreamStopped:
    stop = data.get("stop", {})
    if not isinstance(stop, dict):
        raise _Malformed("stop")
    _str(data, "streamSid")
    _str(stop, "callSid", "")
    _check_seq(data)
    return StreamStopped()


_DECODERS: dict[str, Callable[[Mapping[str, Any]], CarrierEvent]] = {
    "connected": _connected,
    "start": _start,
    "media": _media,
    "dtmf": _dtmf,
    "mark": _mark,
    "stop": _stop,
}


def decode(frame: str | bytes) -> CarrierEvent | None:
    """One Twilio frame as an event, or ``None`` if it is malformed or of an unknown kind."""
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:  # also bad UTF-8 and nesting deeper than 1024
        return None
    if not isinstance(data, dict):
        return None
    event = data.get("event")
    decoder = _DECODERS.get(event) if isinstance(event, str) else None
    if decoder is None:
        return None
    try:
        return decoder(data)
    except _Malformed:
        return None


# --- encoding ----------------------------------------------------------------------------------


class TwilioCodec:
    """Twilio Media Streams for one stream (``streamSid``): decode its frames, encode commands."""

    __slots__ = ("_audio_head", "_clear", "_sid")

    def __init__(self, stream_sid: str) -> None:
        if not isinstance(stream_sid, str) or not stream_sid:
            raise CodecError("stream_sid is required")
        self._sid = stream_sid
        sid_json = orjson.dumps(stream_sid)
        self._audio_head = b'{"event":"media","streamSid":' + sid_json + b',"media":{"payload":"'
        self._clear = orjson.dumps({"event": "clear", "streamSid": stream_sid})

    @classmethod
    def for_stream(cls, started: StreamStarted) -> TwilioCodec:
        return cls(started.stream_id)

    @property
    def stream_id(self) -> str:
        return self._sid

    # The module's function itself: the bridge calls it per frame, so no wrapper call.
    decode = staticmethod(decode)

    def encode(self, command: CarrierCommand) -> bytes:
        """The text frame for ``command`` as UTF-8, for ``send_frame`` with the TEXT opcode."""
        if type(command) is PlayAudio:  # the hot path: fifty a second while the agent talks
            audio = command.audio
            if not isinstance(audio, bytes | bytearray | memoryview):
                raise CodecError("media payload must be bytes")
            return self._audio_head + binascii.b2a_base64(audio, newline=False) + b'"}}'
        match command:
            case PlaceMark(name=name):
                if not name or len(name) > MAX_MARK_NAME_CHARS:
                    raise CodecError("mark name must be 1 to 256 characters")
                return orjson.dumps(
                    {"event": "mark", "streamSid": self._sid, "mark": {"name": name}}
                )
            case ClearAudio():
                return self._clear
        raise CodecError(f"not a carrier command: {type(command).__name__}")
