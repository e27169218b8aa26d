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
from gateway.telephony.carriers.fields import Malformed, count, media_frame, obj, text
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
    warm_transfer=True,  # gateway.telephony.transfer: a REST-dialled leg, then a conference
)

_ENCODINGS: dict[str, AudioEncoding] = {
    "audio/x-mulaw": "pcmu",
    "audio/x-alaw": "pcma",
    "audio/x-l16": "pcm16",  # SignalWire's L16 streams (protocols.md §2.4)
}


# --- decoding ----------------------------------------------------------------------------------


def _check_seq(data: Mapping[str, Any]) -> None:
    """Every frame but ``connected`` carries a counter; a bad one marks a frame not Twilio's."""
    if "sequenceNumber" in data:
        count(data, "sequenceNumber")


def _connected(data: Mapping[str, Any]) -> StreamConnected:
    return StreamConnected(protocol=text(data, "protocol", ""), version=text(data, "version", ""))


def _audio_format(media_format: Mapping[str, Any]) -> AudioFormat | None:
    encoding = _ENCODINGS.get(text(media_format, "encoding"))
    sample_rate_hz = count(media_format, "sampleRate")
    if encoding is None or count(media_format, "channels") != 1:
        return None
    return AudioFormat(encoding, sample_rate_hz)


def _start(data: Mapping[str, Any]) -> StreamStarted:
    start = obj(data, "start")
    tracks = start.get("tracks", [])
    params = start.get("customParameters", {})
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise Malformed("tracks")
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise Malformed("customParameters")
    text(start, "accountSid", "")
    _check_seq(data)
    return StreamStarted(
        stream_id=text(start, "streamSid", data.get("streamSid")),
        call_id=text(start, "callSid"),
        custom_parameters=dict(params),
        audio=_audio_format(obj(start, "mediaFormat")),
    )


def _media(data: Mapping[str, Any]) -> MediaReceived:
    # The hot path: every check of the other decoders, written out inline.
    media = data.get("media")
    if type(media) is not dict:
        raise Malformed("media")
    encoded, sid, track = media.get("payload"), data.get("streamSid"), media.get("track", "inbound")
    if type(encoded) is not str or type(sid) is not str or type(track) is not str:
        raise Malformed("media")
    if "chunk" in media:
        count(media, "chunk")
    if "timestamp" in media:
        count(media, "timestamp")
    if "sequenceNumber" in data:
        count(data, "sequenceNumber")
    try:
        # strict: the lenient default silently skips non-alphabet bytes and yields wrong audio.
        return MediaReceived(binascii.a2b_base64(encoded, strict_mode=True))
    except (binascii.Error, ValueError) as exc:
        raise Malformed("payload") from exc


def _dtmf(data: Mapping[str, Any]) -> DtmfReceived:
    dtmf = obj(data, "dtmf")
    text(data, "streamSid")
    text(dtmf, "track", "inbound_track")
    _check_seq(data)
    return DtmfReceived(text(dtmf, "digit"))


def _mark(data: Mapping[str, Any]) -> MarkEchoed:
    text(data, "streamSid")
    _check_seq(data)
    return MarkEchoed(text(obj(data, "mark"), "name"))


def _stop(data: Mapping[str, Any]) -> StreamStopped:
    stop = data.get("stop", {})
    if not isinstance(stop, dict):
        raise Malformed("stop")
    text(data, "streamSid")
    text(stop, "callSid", "")
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
    except Malformed:
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
            return media_frame(self._audio_head, command.audio)
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
