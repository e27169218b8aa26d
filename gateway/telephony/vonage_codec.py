"""Vonage Voice WebSocket wire codec: binary L16 frames and JSON text events ↔ the carrier seam.

Pure and synchronous: no I/O, no clock, no logging. Vonage opens the socket the NCCO's
``connect`` action names and sends one text message first, ``websocket:connected``, carrying
the ``content-type`` (``audio/l16;rate=16000`` or ``24000``) and, merged in at the top level,
the ``headers`` we put in the NCCO (our session id, media token and the call's UUID: the socket
itself carries no ids). Then caller audio comes as **binary** frames of raw 16-bit little-endian
PCM, 20 ms each (640 bytes at 16 kHz, 960 at 24 kHz), and events as text: ``websocket:dtmf``,
``websocket:notify`` (the echo of a ``notify`` we sent once the audio before it has played: our
marks) and ``websocket:cleared``. We send binary audio frames of the same size, and
``{"action":"notify","payload":{...}}`` and ``{"action":"clear"}`` as text.

The hot path is a binary frame in and a binary frame out: no JSON, no base64 — the frame's bytes
are the payload (``decode`` checks only that it holds whole samples).

L16 at 8 kHz (``audio/l16;rate=8000``, what the answer asks for when the provider takes and
speaks µ-law) is companded to µ-law here, at the edge, both ways: the call is then a µ-law call
for the bridge and the provider, exactly as Twilio's (µ-law passes straight through to the
provider, and the denoiser, VAD and echo guard run at 8 kHz). Wider L16 made them work on two or
three times the samples of a phone call that was 8 kHz G.711 on its way to Vonage anyway: about
1.7 to 1.9 times Twilio's codec and chain CPU per 20 ms (``scripts/bench_carriers.py``).
"""

from __future__ import annotations

import audioop
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
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
)
from gateway.telephony.carriers.fields import Malformed, obj, text
from kinds.audio import PCMU_8K, AudioFormat

SAMPLE_RATES_HZ = (16_000, 24_000)
"""The L16 rates a PCM16 provider speaks, which we ask Vonage for when it does not take µ-law."""
ULAW_RATE_HZ = 8_000
"""The L16 rate we ask for when the provider takes and speaks µ-law: companded here, at the
edge, into a µ-law call."""
CALL_HEADER = "call_uuid"  # the NCCO header that carries the call's UUID (the REST API's id)
MARK_KEY = "mark"  # our marks travel as {"mark": name} in a notify's payload
MAX_MARK_NAME_CHARS = 256
MAX_HEADERS = 32  # we send three; a connect message with hundreds is not ours
DTMF_DIGITS = frozenset("0123456789*#ABCD")
_RESERVED = frozenset({"event", "content-type"})


def content_type(rate_hz: int) -> str:
    """The NCCO websocket endpoint's ``content-type`` for L16 at ``rate_hz``."""
    return f"audio/l16;rate={rate_hz}"


def capabilities(rate_hz: int) -> CarrierCapabilities:
    """Vonage's record for calls streamed at ``rate_hz`` (one rate per gateway, see config)."""
    if rate_hz not in SAMPLE_RATES_HZ:
        raise ValueError(f"Vonage L16 at {rate_hz} Hz is not supported")
    return CarrierCapabilities(
        name="vonage",
        audio=AudioFormat("pcm16", rate_hz),
        frame_ms=20,
        marks=True,  # notify → websocket:notify once the audio queued before it has played
        clear=True,
        dtmf=True,
        frames="binary",
    )


CAPABILITIES = replace(
    capabilities(SAMPLE_RATES_HZ[-1]),
    formats=(PCMU_8K, *(AudioFormat("pcm16", rate) for rate in SAMPLE_RATES_HZ)),
    warm_transfer=True,  # a REST-placed leg, then a ``conversation`` NCCO (vonage_legs)
)
"""Vonage calls at any L16 rate we ask for (the answer's NCCO asks per call), 8 kHz carried as
µ-law; the start's format picks."""


def preferred_rate(
    inputs: Sequence[AudioFormat], outputs: Sequence[AudioFormat], default: int = 24_000
) -> int:
    """The L16 rate a provider taking ``inputs`` and speaking ``outputs`` needs the least
    resampling for: one it takes as is counts most (the caller's frames come fifty a second all
    call long), one it speaks next (only while the agent talks); ties go to ``default``."""

    def score(rate_hz: int) -> tuple[bool, bool, bool]:
        fmt = AudioFormat("pcm16", rate_hz)
        return fmt in inputs, fmt in outputs, rate_hz == default

    return max(SAMPLE_RATES_HZ, key=score)


def answer_rate(inputs: Sequence[AudioFormat], outputs: Sequence[AudioFormat]) -> int:
    """The L16 rate a call's NCCO asks for: 8 kHz (carried as µ-law) for a provider that takes
    and speaks µ-law, else ``preferred_rate``."""
    if PCMU_8K in inputs and PCMU_8K in outputs:
        return ULAW_RATE_HZ
    return preferred_rate(inputs, outputs)


def _audio_format(value: Any) -> AudioFormat | None:
    """``audio/l16;rate=16000`` → L16 16 kHz, ``rate=8000`` → µ-law (companded at the edge);
    ``None`` for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    kind, _, params = value.replace(" ", "").lower().partition(";")
    name, _, rate = params.partition("=")
    if kind != "audio/l16" or name != "rate" or not (rate.isascii() and rate.isdigit()):
        return None
    rate_hz = int(rate[:6])
    if rate_hz == ULAW_RATE_HZ:
        return PCMU_8K
    return AudioFormat("pcm16", rate_hz) if rate_hz in SAMPLE_RATES_HZ else None


def _connected(data: Mapping[str, Any]) -> StreamStarted:
    headers = {k: v for k, v in data.items() if k not in _RESERVED}
    if len(headers) > MAX_HEADERS:
        raise Malformed("headers")
    params = {k: v for k, v in headers.items() if isinstance(v, str)}
    call_uuid = params.get(CALL_HEADER, "")
    return StreamStarted(
        stream_id=call_uuid,  # Vonage names no stream: the call's UUID stands for it
        call_id=call_uuid,
        custom_parameters=params,
        audio=_audio_format(data.get("content-type")),
    )


def _dtmf(data: Mapping[str, Any]) -> DtmfReceived:
    """The digit at the top level or under ``dtmf`` (implementations differ)."""
    inner = data.get("dtmf")
    digit = text(inner, "digit") if isinstance(inner, dict) else text(data, "digit")
    if digit not in DTMF_DIGITS:
        raise Malformed("digit")
    return DtmfReceived(digit)


def _notify(data: Mapping[str, Any]) -> MarkEchoed:
    return MarkEchoed(text(obj(data, "payload"), MARK_KEY))


def _cleared(data: Mapping[str, Any]) -> PlayoutCleared:
    return PlayoutCleared()


_DECODERS: dict[str, Callable[[Mapping[str, Any]], CarrierEvent]] = {
    "websocket:connected": _connected,
    "websocket:dtmf": _dtmf,
    "websocket:notify": _notify,
    "websocket:cleared": _cleared,
}


def decode(frame: str | bytes) -> CarrierEvent | None:
    """One Vonage frame as an event, or ``None`` if malformed or of a kind we do not use.

    A binary frame is caller audio as it is (``None`` when it does not hold whole 16-bit
    samples); a text frame is a JSON event."""
    if type(frame) is bytes:  # the hot path: fifty a second per call
        return MediaReceived(frame) if frame and not len(frame) & 1 else None
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:  # also bad UTF-8 and nesting deeper than 1024
        return None
    event = data.get("event") if isinstance(data, dict) else None
    decoder = _DECODERS.get(event) if isinstance(event, str) else None
    if decoder is None:
        return None
    try:
        return decoder(data)
    except Malformed:
        return None


class VonageCodec:
    """One Vonage media socket: decode (µ-law from 8 kHz L16), and the frames we send."""

    __slots__ = ("_call_uuid", "_ulaw")

    _CLEAR = orjson.dumps({"action": "clear"})

    def __init__(self, call_uuid: str, *, ulaw: bool = False) -> None:
        if not isinstance(call_uuid, str) or not call_uuid:
            raise CodecError("the call's UUID is required")
        self._call_uuid = call_uuid
        self._ulaw = ulaw  # 8 kHz L16 on the wire, µ-law for the bridge

    @classmethod
    def for_stream(cls, started: StreamStarted) -> VonageCodec:
        return cls(started.stream_id, ulaw=started.audio == PCMU_8K)

    @property
    def stream_id(self) -> str:
        return self._call_uuid

    def decode(self, frame: str | bytes) -> CarrierEvent | None:
        if self._ulaw and type(frame) is bytes:  # the hot path of an 8 kHz call
            return (
                MediaReceived(audioop.lin2ulaw(frame, 2)) if frame and not len(frame) & 1 else None
            )
        return decode(frame)

    def encode(self, command: CarrierCommand) -> bytes:
        """A binary frame for audio (its bytes as they are, or µ-law expanded to the 8 kHz L16
        asked for); JSON text for the others."""
        if type(command) is PlayAudio:  # the hot path: fifty a second while the agent talks
            audio = command.audio
            if self._ulaw:
                if not isinstance(audio, bytes | bytearray | memoryview):
                    raise CodecError("media payload must be bytes")
                return audioop.ulaw2lin(audio, 2)
            if type(audio) is not bytes:
                if not isinstance(audio, bytearray | memoryview):
                    raise CodecError("media payload must be bytes")
                audio = bytes(audio)
            return audio
        match command:
            case PlaceMark(name=name):
                if not name or len(name) > MAX_MARK_NAME_CHARS:
                    raise CodecError("mark name must be 1 to 256 characters")
                return orjson.dumps({"action": "notify", "payload": {MARK_KEY: name}})
            case ClearAudio():
                return self._CLEAR
        raise CodecError(f"not a carrier command: {type(command).__name__}")
