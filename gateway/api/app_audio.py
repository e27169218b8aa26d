"""The audio format of an app's session socket, chosen once per session.

An app picks its format at creation (``audio: {encoding, sample_rate}``) or at its first connect
(``?encoding=…&sample_rate=…``, as Nur's stream does); without either it is the Kura API's
PCM16 24 kHz. ``encoding`` is ``pcm16``, ``mulaw`` or ``alaw``; ``sample_rate`` 8000, 16000 or
24000 Hz, and when left out 8000 for G.711 (what telephone audio is) and 24000 for PCM16.

The format is fixed for the session: the first connect stores it with the session's overrides,
so a later connect that names another one is refused (409) before the upgrade, as is a format
named for a chat session (422: it has no audio). Both ``audioChunk`` and ``agentAudioChunk``
carry the chosen format; the session plan converts each direction at most once, and not at all
when the provider speaks the app's format (µ-law 8 kHz on OpenAI's ``g711_ulaw``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping

from gateway.errors import Conflict, ValidationFailed
from gateway.sessions.overrides import SessionOverrides
from gateway.sessions.plan import ClientTraits
from gateway.sessions.protocol import ProtocolError
from gateway.sessions.session_spec import overrides_of
from gateway.store.models import Session
from kinds.audio import PCM16_24K, AudioEncoding, AudioFormat

WIRE_ENCODINGS: dict[str, AudioEncoding] = {"pcm16": "pcm16", "mulaw": "pcmu", "alaw": "pcma"}
"""The names apps use (Nur's) for the encodings of ``kinds.audio``."""
WIRE_NAMES = {encoding: name for name, encoding in WIRE_ENCODINGS.items()}
SAMPLE_RATES_HZ = (8_000, 16_000, 24_000)
DEFAULT_APP_AUDIO = PCM16_24K
"""What the Kura API documents for the session socket."""


def default_rate_hz(encoding: AudioEncoding) -> int:
    """G.711 is telephone audio, 8 kHz; PCM16 keeps the documented 24 kHz."""
    return 24_000 if encoding == "pcm16" else 8_000


def app_format(encoding: str, sample_rate_hz: int | None = None) -> AudioFormat:
    """The format an app names in wire terms; ``ValueError`` saying what is allowed."""
    internal = WIRE_ENCODINGS.get(encoding)
    if internal is None:
        allowed = ", ".join(WIRE_ENCODINGS)
        raise ValueError(f"encoding must be one of {allowed}, not {encoding[:16]!r}")
    rate_hz = default_rate_hz(internal) if sample_rate_hz is None else sample_rate_hz
    if rate_hz not in SAMPLE_RATES_HZ:
        allowed = ", ".join(str(rate) for rate in SAMPLE_RATES_HZ)
        raise ValueError(f"sample_rate must be one of {allowed} (Hz), not {rate_hz}")
    return AudioFormat(internal, rate_hz)


def describe(fmt: AudioFormat) -> str:
    """``mulaw at 8000 Hz``: a format as an app names it, for error messages."""
    return f"{WIRE_NAMES[fmt.encoding]} at {fmt.sample_rate_hz} Hz"


def app_traits(fmt: AudioFormat) -> ClientTraits:
    """An app speaks its chosen format both ways, has no VAD (no message ends a spoken turn)
    and answers no built-in tool."""
    return ClientTraits(audio=fmt, converts_audio=False, detects_turns=False)


class AppAudioCodec:
    """Base64 ⇄ raw audio in the session's format: the socket's one step each way."""

    def __init__(self, fmt: AudioFormat = DEFAULT_APP_AUDIO) -> None:
        self.format = fmt
        self._sample_bytes = 2 if fmt.encoding == "pcm16" else 1

    def decode(self, audio_b64: str) -> bytes:
        """Strict base64 → audio; ``ProtocolError`` for bad base64 or a split PCM16 sample."""
        try:
            audio = base64.b64decode(audio_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("invalid audioChunk: audio is not valid base64") from None
        if len(audio) % self._sample_bytes:
            raise ProtocolError(
                f"invalid audioChunk: {len(audio)} bytes is not whole 16-bit samples (PCM16 mono)"
            )
        return audio

    def encode(self, audio: bytes) -> str:
        return base64.b64encode(audio).decode("ascii")


def query_format(query: Mapping[str, str]) -> AudioFormat | None:
    """The format a connect URL names (``encoding``, ``sample_rate``), None if it names none;
    ``ValidationFailed`` (422) for a value outside the lists."""
    encoding, rate = query.get("encoding"), query.get("sample_rate")
    if encoding is None and rate is None:
        return None
    encoding = "pcm16" if encoding is None else encoding
    if rate is not None and not (rate.isdigit() and len(rate) <= 6):
        raise _invalid(
            "sample_rate", f"sample_rate must be 8000, 16000 or 24000, not {rate[:16]!r}"
        )
    try:
        return app_format(encoding, int(rate) if rate is not None else None)
    except ValueError as exc:
        field = "sample_rate" if encoding in WIRE_ENCODINGS else "encoding"
        raise _invalid(field, str(exc)) from None


def stored_format(overrides: SessionOverrides) -> AudioFormat | None:
    """The format the session was created with or first connected in, if any."""
    if overrides.audio_encoding is None:
        return None
    encoding = overrides.audio_encoding
    return AudioFormat(encoding, overrides.audio_rate_hz or default_rate_hz(encoding))


def with_format(overrides: SessionOverrides, fmt: AudioFormat) -> SessionOverrides:
    return dataclasses.replace(
        overrides, audio_encoding=fmt.encoding, audio_rate_hz=fmt.sample_rate_hz
    )


def connect_format(row: Session, query: Mapping[str, str]) -> tuple[AudioFormat, bool]:
    """The session's format for this connect, and whether it is to be stored at the claim (the
    first connect of a voice session fixes it, the default included). Refuses a format on a
    chat session (422) and one other than the session's (409), before the upgrade, so a
    refused app costs no provider."""
    asked = query_format(query)
    if row.mode == "chat":
        if asked is not None:
            raise _invalid("encoding", "a chat session carries no audio: connect without a format")
        return DEFAULT_APP_AUDIO, False
    fixed = stored_format(overrides_of(row))
    if fixed is None:
        return asked or DEFAULT_APP_AUDIO, True
    if asked is not None and asked != fixed:
        raise Conflict(
            f"this session's audio is {describe(fixed)}, fixed when it was created or first "
            f"connected; this connect asked for {describe(asked)}"
        )
    return fixed, False


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": field, "message": message}])
