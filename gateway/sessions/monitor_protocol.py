"""The supervisor's side of the Kura protocol (``/api/v1/sessions/{id}/monitor``): additive.

Server → supervisor: ``monitorOpen``, ``monitorAudio {source, audio}`` (PCM16 24 kHz base64, as
``agentAudioChunk``), the session's own ``transcriptionUpdate`` and ``turnComplete``,
``monitorControl {controller, you}`` whenever who speaks to the caller changes, and
``sessionError`` for a refused request. Supervisor → server: ``whisper {text}``, ``takeOver``,
``audioChunk`` (while holding the call) and ``handBack``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gateway.sessions.protocol import AudioChunk, ProtocolError


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Whisper(_Message):
    """Guidance for the assistant only: the provider gets it as a note, the caller hears
    nothing and no reply is asked for."""

    type: Literal["whisper"]
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class TakeOver(_Message):
    """The supervisor speaks to the caller; the assistant stops and listens to nothing."""

    type: Literal["takeOver"]


class HandBack(_Message):
    """The assistant carries on; it is told a person spoke with the caller meanwhile."""

    type: Literal["handBack"]


SupervisorMessage = Annotated[
    Whisper | TakeOver | HandBack | AudioChunk, Field(discriminator="type")
]
SUPERVISOR_MESSAGE_TYPES = ("whisper", "takeOver", "handBack", "audioChunk")
_SUPERVISOR = TypeAdapter(SupervisorMessage)


class MonitorOpen(_Message):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    type: Literal["monitorOpen"] = "monitorOpen"
    session_id: str = Field(alias="sessionId")
    channel: Literal["api", "phone"]
    controller: Literal["assistant", "supervisor"]


MONITOR_AUDIO = "monitorAudio"


class MonitorAudio(_Message):
    """Documents the tap's audio message (which encodes it with orjson directly)."""

    type: Literal["monitorAudio"] = "monitorAudio"
    source: Literal["caller", "assistant"]
    audio: str


class MonitorControl(_Message):
    """Who speaks to the caller now; ``you`` is True for the supervisor holding the call."""

    type: Literal["monitorControl"] = "monitorControl"
    controller: Literal["assistant", "supervisor"]
    you: bool = False


MonitorServerMessage = MonitorOpen | MonitorAudio | MonitorControl


def encode_monitor(message: MonitorServerMessage) -> str:
    return message.model_dump_json(by_alias=True)


def parse_supervisor_message(raw: str) -> Whisper | TakeOver | HandBack | AudioChunk:
    """Parse one supervisor frame; raises ``ProtocolError`` naming what is wrong."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("malformed JSON: each message must be one JSON object") from None
    if not isinstance(data, dict) or data.get("type") not in SUPERVISOR_MESSAGE_TYPES:
        known = ", ".join(SUPERVISOR_MESSAGE_TYPES)
        raise ProtocolError(f"unknown message type; expected one of {known}")
    try:
        return _SUPERVISOR.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or "message"
        raise ProtocolError(f"invalid {data['type']}: {field}: {first['msg']}") from None
