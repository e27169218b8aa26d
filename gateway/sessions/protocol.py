"""The Kura session protocol: client and server WebSocket messages (pydantic v2, on ``type``).

Extensions beyond the Kura documentation are additive and optional (docs/protocol.md):
``interrupt.playedMs`` (how much of the agent's current audio the client played);
``turnComplete.turnId``, ``latencyMs``, ``durationMs`` and ``interrupted``;
``transcriptionUpdate.final`` on input transcripts; the opt-in ``turnStarted`` message; and the
``seq`` every message carries on the app socket (stamped there, ``gateway.api.sequence``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AudioChunk(_Message):
    """Caller audio, base64: mono PCM16 24 kHz little-endian unless the session chose another
    format (``gateway.api.app_audio``); voice mode."""

    type: Literal["audioChunk"]
    audio: str


class TextMessage(_Message):
    """A user text turn (chat mode; also accepted in voice mode)."""

    type: Literal["textMessage"]
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class InterruptMessage(_Message):
    """Stop the agent's speech now; ``playedMs`` says how much of it the client played."""

    type: Literal["interrupt"]
    played_ms: Annotated[int | None, Field(alias="playedMs", ge=0)] = None


class StopSession(_Message):
    type: Literal["stopSession"]


ClientMessage = Annotated[
    AudioChunk | TextMessage | InterruptMessage | StopSession, Field(discriminator="type")
]
CLIENT_MESSAGE_TYPES = ("audioChunk", "textMessage", "interrupt", "stopSession")
_CLIENT = TypeAdapter(ClientMessage)


class SessionOpen(_Message):
    type: Literal["sessionOpen"] = "sessionOpen"
    provider: str
    mode: Literal["voice", "chat"]


class AgentAudioChunk(_Message):
    type: Literal["agentAudioChunk"] = "agentAudioChunk"
    audio: str


class TranscriptionUpdate(_Message):
    type: Literal["transcriptionUpdate"] = "transcriptionUpdate"
    source: Literal["input", "output"]
    text: str
    final: bool | None = Field(default=None, exclude_if=lambda value: value is None)
    """Input transcripts only: the last delta of the caller's utterance."""


class TurnStarted(_Message):
    """Opt-in (``?events=turns``): a turn's caller input or assistant answer has begun."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    type: Literal["turnStarted"] = "turnStarted"
    role: Literal["user", "assistant"]
    turn_id: int = Field(alias="turnId")


class TurnComplete(_Message):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    type: Literal["turnComplete"] = "turnComplete"
    full_input: str = Field(alias="fullInput")
    full_output: str = Field(alias="fullOutput")
    interrupted: bool = False
    turn_id: int | None = Field(default=None, alias="turnId")
    latency_ms: int | None = Field(default=None, alias="latencyMs")
    """The caller's end of turn → the first agent audio or text; null when no end was seen
    (the greeting; a provider whose VAD does not report the end of speech)."""
    duration_ms: int | None = Field(default=None, alias="durationMs")


class SessionTimeout(_Message):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    type: Literal["sessionTimeout"] = "sessionTimeout"
    reason: Literal["idle"] = "idle"
    timeout_seconds: int = Field(alias="timeoutSeconds")


class SessionError(_Message):
    type: Literal["sessionError"] = "sessionError"
    error: str


ServerMessage = (
    SessionOpen
    | AgentAudioChunk
    | TranscriptionUpdate
    | TurnComplete
    | TurnStarted
    | SessionTimeout
    | SessionError
)


class ProtocolError(ValueError):
    """A client message we cannot act on; its text goes back to the client in ``sessionError``."""


def encode(message: ServerMessage) -> str:
    """Wire JSON for a server message, with the documented camelCase names."""
    return message.model_dump_json(by_alias=True)


def parse_client_message(raw: str) -> AudioChunk | TextMessage | InterruptMessage | StopSession:
    """Parse one text frame; raises ``ProtocolError`` naming what is wrong."""
    try:
        # orjson refuses nesting past 1024 levels; the standard parser raised RecursionError,
        # which ended the session as internal_error.
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("malformed JSON: each message must be one JSON object") from None
    if not isinstance(data, dict):
        raise ProtocolError("each message must be a JSON object with a 'type'")
    kind = data.get("type")
    if kind not in CLIENT_MESSAGE_TYPES:
        known = ", ".join(CLIENT_MESSAGE_TYPES)
        raise ProtocolError(f"unknown message type {kind!r}; expected one of {known}")
    try:
        return _CLIENT.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or "message"
        raise ProtocolError(f"invalid {kind}: {field}: {first['msg']}") from None


def decode_pcm16(audio_b64: str) -> bytes:
    """Strict base64 → PCM16 bytes; rejects non-alphabet characters and odd byte counts."""
    try:
        pcm = base64.b64decode(audio_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("invalid audioChunk: audio is not valid base64") from None
    if len(pcm) % 2:
        raise ProtocolError(
            f"invalid audioChunk: {len(pcm)} bytes is not whole 16-bit samples (PCM16 mono)"
        )
    return pcm


def encode_pcm16(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")
