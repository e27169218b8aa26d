"""Telnyx media streaming wire codec: JSON text frames ↔ the carrier seam's neutral events and
commands (``gateway.telephony.carriers``), Telnyx's capability record, and a re-ordering window.

Pure and synchronous: no I/O, no clock, no logging. Telnyx's frames are snake_case JSON
(``connected``, ``start`` with ``stream_id``, ``start.call_control_id`` and
``start.media_format{encoding, sample_rate, channels}``, ``media`` with ``media.chunk`` and a
base64 RTP payload without its header, ``dtmf``, ``mark``, ``error``, ``stop``); we send
``media``, ``mark`` and ``clear`` in RTP bidirectional mode. ``decode`` answers ``None`` for
anything it does not understand (bad JSON, an unknown event, a wrong type, bad base64), so a
hostile peer never crashes the bridge.

The encoding is read from each call's ``start.media_format`` (PCMU in the US, PCMA in Europe and
India, L16 where asked) and the bridge builds that call's chains from it. L16 travels as the RTP
payload, in network byte order (RFC 3551); the media chains take little-endian PCM16, so the
codec swaps the bytes of an L16 stream both ways, here at the edge.

Telnyx says media frame order is not guaranteed. ``TelnyxCodec`` (one stream) therefore
re-orders media by ``media.chunk`` within a window of ``REORDER_WINDOW`` frames: a frame that
arrives early is held (``decode`` answers ``None``) until the ones before it come, and then all
of them leave as one in-order payload; duplicates and frames later than the window are dropped.
"""

from __future__ import annotations

import audioop
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
from kinds.audio import (
    PCM16_8K,
    PCM16_16K,
    PCM16_24K,
    PCMA_8K,
    PCMU_8K,
    AudioEncoding,
    AudioFormat,
)

MAX_MARK_NAME_CHARS = 256  # our marks are "item:offset"; anything longer is a bug upstream
MAX_PARAMETERS = 32  # we send three custom parameters; a start with hundreds is not ours
REORDER_WINDOW = 3  # frames held waiting for a late one: 60 ms, past which it counts as lost
DTMF_DIGITS = frozenset("0123456789*#ABCD")
CALL_PARAMETER = "call_sid"  # the custom parameter that carries the TeXML CallSid

CAPABILITIES = CarrierCapabilities(
    name="telnyx",
    # What the TeXML asks for by default (``KURA_TELNYX_STREAM_CODEC``); each call's start
    # announces its own format, any of ``formats`` is carried as it is.
    audio=PCMU_8K,
    frame_ms=20,
    marks=True,  # echoed once played; a clear echoes the pending ones (as Twilio)
    clear=True,
    dtmf=True,
    frames="text",
    formats=(PCMA_8K, PCM16_8K, PCM16_16K, PCM16_24K),
    warm_transfer=True,  # TeXML calls: a TeXML leg, then a conference (telnyx_legs)
)

_ENCODINGS: dict[str, AudioEncoding] = {"PCMU": "pcmu", "PCMA": "pcma", "L16": "pcm16"}


def _check_seq(data: Mapping[str, Any]) -> None:
    if "sequence_number" in data:
        count(data, "sequence_number")


def _parameters(start: Mapping[str, Any]) -> dict[str, str]:
    """``custom_parameters`` as a mapping; Call Control's list form (``[{name, value}]``) too."""
    raw = start.get("custom_parameters", {})
    if isinstance(raw, list):
        pairs = [(text(p, "name"), text(p, "value")) for p in raw if isinstance(p, dict)]
        if len(pairs) != len(raw):
            raise Malformed("custom_parameters")
        raw = dict(pairs)
    if not isinstance(raw, dict) or len(raw) > MAX_PARAMETERS:
        raise Malformed("custom_parameters")
    if not all(isinstance(v, str) for v in raw.values()):
        raise Malformed("custom_parameters")
    return dict(raw)


def _audio_format(media_format: Mapping[str, Any]) -> AudioFormat | None:
    encoding = _ENCODINGS.get(text(media_format, "encoding"))
    sample_rate_hz = count(media_format, "sample_rate")
    channels = count(media_format, "channels") if "channels" in media_format else 1
    if encoding is None or channels != 1:
        return None
    return AudioFormat(encoding, sample_rate_hz)


def _start(data: Mapping[str, Any]) -> StreamStarted:
    start = obj(data, "start")
    _check_seq(data)
    params = _parameters(start)
    call_control_id = text(start, "call_control_id")
    return StreamStarted(
        stream_id=text(data, "stream_id"),
        # The TeXML CallSid we answered, passed back as a parameter of our own: Telnyx does not
        # document it as equal to the stream's call_control_id. The single-use media token is
        # bound to that CallSid and session, so naming the call here proves nothing by itself.
        call_id=params.get(CALL_PARAMETER) or call_control_id,
        custom_parameters=params,
        audio=_audio_format(obj(start, "media_format")),
    )


def _media(data: Mapping[str, Any]) -> tuple[MediaReceived, int | None]:
    media = data.get("media")
    if type(media) is not dict:
        raise Malformed("media")
    encoded, track = media.get("payload"), media.get("track", "inbound")
    if type(encoded) is not str or track != "inbound":  # we ask for the caller's track only
        raise Malformed("media")
    chunk = count(media, "chunk") if "chunk" in media else None
    if "timestamp" in media:
        count(media, "timestamp")
    _check_seq(data)
    try:
        # strict: the lenient default silently skips non-alphabet bytes and yields wrong audio.
        return MediaReceived(binascii.a2b_base64(encoded, strict_mode=True)), chunk
    except (binascii.Error, ValueError) as exc:
        raise Malformed("payload") from exc


def _dtmf(data: Mapping[str, Any]) -> DtmfReceived:
    digit = text(obj(data, "dtmf"), "digit")
    if digit not in DTMF_DIGITS:
        raise Malformed("digit")
    _check_seq(data)
    return DtmfReceived(digit)


def _mark(data: Mapping[str, Any]) -> MarkEchoed:
    _check_seq(data)
    return MarkEchoed(text(obj(data, "mark"), "name"))


def _stop(data: Mapping[str, Any]) -> StreamStopped:
    if not isinstance(data.get("stop", {}), dict):
        raise Malformed("stop")
    _check_seq(data)
    return StreamStopped()


def _connected(data: Mapping[str, Any]) -> StreamConnected:
    return StreamConnected(protocol="telnyx", version=text(data, "version", ""))


_DECODERS: dict[str, Callable[[Mapping[str, Any]], CarrierEvent]] = {
    "connected": _connected,
    "start": _start,
    "dtmf": _dtmf,
    "mark": _mark,
    "stop": _stop,
}


def _parse(frame: str | bytes) -> tuple[CarrierEvent | None, int | None]:
    """One frame as an event (``None``: not understood) and its media chunk number, if any."""
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:  # also bad UTF-8 and nesting deeper than 1024
        return None, None
    event = data.get("event") if isinstance(data, dict) else None
    try:
        if event == "media":
            return _media(data)
        decoder = _DECODERS.get(event) if isinstance(event, str) else None
        return (decoder(data) if decoder else None), None
    except Malformed:
        return None, None


def decode(frame: str | bytes) -> CarrierEvent | None:
    """One Telnyx frame as an event, or ``None`` if malformed or of a kind we do not use
    (``error`` included). Stateless: no re-ordering (``TelnyxCodec.decode`` re-orders)."""
    return _parse(frame)[0]


class ChunkOrder:
    """Puts media payloads back in ``chunk`` order, holding at most ``window`` early frames.

    ``push`` answers the payload bytes that are now in order (one frame, or several joined)
    or ``None`` when nothing is: the frame was held, or it was a duplicate or too late."""

    __slots__ = ("_held", "_next", "_window", "duplicates", "held", "lost")

    def __init__(self, window: int = REORDER_WINDOW) -> None:
        self._window = window
        self._next: int | None = None  # the chunk we expect; the first one seen starts it
        self._held: dict[int, bytes] = {}
        self.held = 0
        self.duplicates = 0  # and frames that came after the window gave up on them
        self.lost = 0

    def push(self, chunk: int, payload: bytes) -> bytes | None:
        expected = chunk if self._next is None else self._next
        if chunk == expected and not self._held:  # the hot path: in order, nothing waiting
            self._next = chunk + 1
            return payload
        if chunk < expected or chunk in self._held:
            self.duplicates += 1
            return None
        self._held[chunk] = payload
        self._next = expected
        if chunk > expected:
            if len(self._held) <= self._window:
                self.held += 1
                return None
            first = min(self._held)  # the gap outlived the window: those frames are lost
            self.lost += first - expected
            self._next = first
        return self._release()

    def _release(self) -> bytes:
        ready: list[bytes] = []
        while self._next in self._held:
            ready.append(self._held.pop(self._next))
            self._next += 1
        return b"".join(ready)


class TelnyxCodec:
    """Telnyx media streaming for one stream: re-ordering decode, and command frames."""

    __slots__ = ("_order", "_stream_id", "_swap")

    _AUDIO_HEAD = b'{"event":"media","media":{"payload":"'
    _CLEAR = orjson.dumps({"event": "clear"})

    def __init__(
        self, stream_id: str, window: int = REORDER_WINDOW, *, network_order: bool = False
    ) -> None:
        if not isinstance(stream_id, str) or not stream_id:
            raise CodecError("stream_id is required")
        self._stream_id = stream_id
        self._order = ChunkOrder(window)
        self._swap = network_order  # L16: big-endian on the wire, little-endian in the chains

    @classmethod
    def for_stream(cls, started: StreamStarted) -> TelnyxCodec:
        l16 = started.audio is not None and started.audio.encoding == "pcm16"
        return cls(started.stream_id, network_order=l16)

    @property
    def stream_id(self) -> str:
        return self._stream_id

    @property
    def order(self) -> ChunkOrder:
        """The re-ordering window and what it counted (held, duplicates, lost)."""
        return self._order

    def decode(self, frame: str | bytes) -> CarrierEvent | None:
        event, chunk = _parse(frame)
        if type(event) is not MediaReceived:
            return event
        payload = event.payload if chunk is None else self._order.push(chunk, event.payload)
        if payload is None:
            return None
        if self._swap:
            return MediaReceived(audioop.byteswap(payload, 2))
        return event if payload is event.payload else MediaReceived(payload)

    def encode(self, command: CarrierCommand) -> bytes:
        """The text frame for ``command`` as UTF-8 (Telnyx needs no stream id on commands)."""
        if type(command) is PlayAudio:  # the hot path: fifty a second while the agent talks
            audio = command.audio
            if self._swap and isinstance(audio, bytes | bytearray | memoryview):
                audio = audioop.byteswap(audio, 2)  # L16 goes out in network byte order
            return media_frame(self._AUDIO_HEAD, audio)
        match command:
            case PlaceMark(name=name):
                if not name or len(name) > MAX_MARK_NAME_CHARS:
                    raise CodecError("mark name must be 1 to 256 characters")
                return orjson.dumps({"event": "mark", "mark": {"name": name}})
            case ClearAudio():
                return self._CLEAR
        raise CodecError(f"not a carrier command: {type(command).__name__}")
