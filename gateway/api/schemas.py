"""REST request and response bodies (pydantic v2); the OpenAPI document is built from them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.api.assistant_settings import (
    CallingHours,
    InterruptionFields,
    TransferDestination,
    TurnDetectionSettings,
)
from gateway.api.doc_fields import E164, NOT_NULL, PhoneNumber
from gateway.api.ids import MAX_ROW_ID, RowId, WholeNumber

BCP47 = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
METADATA_MAX_BYTES = 16 * 1024


def _bounded_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value)) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata must serialise to at most {METADATA_MAX_BYTES} bytes")
    return value


class _Request(BaseModel):
    # Unknown fields are refused rather than ignored, so a typo or a field the client may not set
    # (status, expires_at, ...) is a clear 422 instead of a silent no-op.
    model_config = ConfigDict(extra="forbid")


ToolName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class AppAudioRequest(_Request):
    """The session socket's audio format, both ways (fixed for the session)."""

    encoding: Annotated[
        Literal["pcm16", "mulaw", "alaw"],
        Field(description="PCM16 little-endian, or G.711 µ-law or A-law"),
    ] = "pcm16"
    sample_rate: Annotated[
        Literal[8000, 16000, 24000] | None,
        Field(description="Hz; default 24000 for pcm16, 8000 for mulaw and alaw"),
    ] = None


# The voice-only overrides a chat session refuses (sessions.overrides.check_overrides), as the
# document states the rule, so that a body it calls valid is one the server takes (row 27).
_CHAT_HAS_NO_VOICE: dict[str, Any] = {
    "if": {"properties": {"mode": {"const": "chat"}}, "required": ["mode"]},
    "then": {"properties": {name: {"type": "null"} for name in
                            ("voice", "vad_threshold", "silence_ms", "audio")}},
}  # fmt: skip


class CreateSessionRequest(_Request):
    """The Kura fields, then optional overrides of the assistant for this session only."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_CHAT_HAS_NO_VOICE)

    assistant_id: Annotated[RowId, Field(description="Assistant ID")]
    mode: Literal["voice", "chat"] = "voice"
    phone_number: PhoneNumber | None = None
    language_code: Annotated[
        str | None,
        Field(
            pattern=BCP47,
            max_length=35,
            description="BCP-47 code; default: the assistant's (en-US unless it says otherwise)",
        ),
    ] = None
    metadata: Annotated[
        dict[str, Any] | None,
        AfterValidator(_bounded_metadata),
        Field(description="Attached to the session; tool webhooks receive it"),
    ] = None
    instructions: Annotated[
        str | None, Field(max_length=32_000, description="System prompt for this session")
    ] = None
    greeting: Annotated[
        str | None, Field(max_length=2000, description="First message for this session")
    ] = None
    voice: Annotated[str | None, Field(max_length=100)] = None
    tools: Annotated[
        list[ToolName] | None,
        Field(max_length=128, description="A subset of the assistant's tools, by name"),
    ] = None
    max_turns: Annotated[int | None, Field(ge=1, le=MAX_ROW_ID)] = None
    context_window: Annotated[
        int,
        Field(
            ge=0,
            le=1000,
            description="Earlier utterances a re-seeded provider connection is given",
        ),
    ] = 50
    vad_threshold: Annotated[float | None, Field(ge=0, le=1)] = None
    silence_ms: Annotated[int | None, Field(ge=100, le=5000)] = None
    resume_grace_s: Annotated[
        float | None,
        Field(
            ge=0,
            le=3600,
            strict=True,  # a number, not `false` (lax parsing took it as 0)
            description="Seconds the session waits for a resume after its WebSocket drops "
            "(0: a drop ends it); default KURA_RESUME_GRACE_S",
        ),
    ] = None
    events: Annotated[
        list[Literal["turns"]] | None,
        Field(max_length=4, description='"turns": send turnStarted messages'),
    ] = None
    audio: Annotated[
        AppAudioRequest | None,
        Field(
            description="Voice only: the audio format of audioChunk and agentAudioChunk "
            "(default PCM16 24 kHz); a connect URL may instead name it once with "
            "?encoding=&sample_rate="
        ),
    ] = None


class ChatMessageRequest(_Request):
    """One user message of a REST chat."""

    text: Annotated[str, Field(min_length=1, max_length=4000)]
    metadata: Annotated[
        dict[str, Any] | None,
        AfterValidator(_bounded_metadata),
        Field(description="Reaches the tool webhooks of this turn only"),
    ] = None


class ChatToolCall(BaseModel):
    call_id: str
    name: str
    arguments: dict[str, Any]


class ChatReply(BaseModel):
    """The assistant's answer to one REST message (its turn's ``turnComplete``)."""

    session_id: str
    turn_id: int | None
    input: str
    text: str
    interrupted: bool
    latency_ms: int | None
    duration_ms: int | None
    tool_calls: list[ChatToolCall]


class AssistantRef(BaseModel):
    id: int
    name: str


class SessionCreated(BaseModel):
    session_id: str
    mode: Literal["voice", "chat"]
    websocket_url: str
    expires_at: datetime
    assistant: AssistantRef


class TurnView(BaseModel):
    seq: int
    role: Literal["user", "assistant", "human"]
    text: str
    started_at: datetime
    ended_at: datetime
    interrupted: bool
    turn_id: int | None = Field(description="The turn, as turnComplete.turnId")
    timestamp: datetime = Field(description="When the utterance began (= started_at)")
    duration_ms: int | None
    latency_ms: int | None = Field(
        description="Assistant utterances: the caller's end of turn → the first agent output"
    )


class SessionView(BaseModel):
    session_id: str
    status: Literal["pending", "active", "ended", "expired"]
    mode: Literal["voice", "chat"]
    channel: Literal["api", "phone"]
    assistant: AssistantRef
    phone_number: str | None
    contact_id: int | None
    language_code: str
    metadata: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    total_turns: int
    total_duration_ms: int | None = Field(
        description="From connection to the end (or to the last activity while it runs)"
    )
    last_activity_at: datetime | None
    mean_latency_ms: int | None = Field(
        description="Mean reply latency: the caller's end of turn → the first agent output"
    )
    history: list[TurnView] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The stored turns, with ?include=history",
    )


class SessionPage(BaseModel):
    data: list[SessionView]
    total: int
    limit: int
    offset: int


class Transcript(BaseModel):
    session_id: str
    turns: list[TurnView]


class ToolDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as documented

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    description: Annotated[str, Field(max_length=1024)] = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    webhook_url: Annotated[str | None, Field(max_length=2048)] = None
    holding_line_after_ms: Annotated[
        int | None,
        Field(
            ge=0,
            le=10_000,
            description="On a call, a tool that has not answered in this long makes the "
            "assistant say a short holding line (repeated after as long again of silence); "
            "0: never; unset: 800.",
        ),
    ] = None


class AssistantFields(_Request):
    """Assistant fields an admin may set; every one optional (PATCH semantics)."""

    name: Annotated[str | None, Field(min_length=1, max_length=200, **NOT_NULL)] = None
    provider: Annotated[str | None, Field(pattern=r"^[a-z0-9_-]{1,40}$", **NOT_NULL)] = None
    fallback_provider: Annotated[
        str | None,
        Field(
            pattern=r"^[a-z0-9_-]{1,40}$",
            description="When the provider fails (at connect or mid-call), the session goes "
            "on with this one, seeded with the transcript so far; null: none.",
        ),
    ] = None
    model: Annotated[str | None, Field(max_length=200)] = None
    voice: Annotated[str | None, Field(max_length=100)] = None
    instructions: Annotated[str | None, Field(max_length=32_000)] = None
    greeting: Annotated[str | None, Field(max_length=2000)] = None
    language_code: Annotated[str | None, Field(pattern=BCP47, max_length=35, **NOT_NULL)] = None
    tools: list[ToolDefinition] | None = None
    turn_detection: TurnDetectionSettings | None = None
    interruption: InterruptionFields | None = None
    # strict: a number, not `false` (lax parsing took it as 0.0; schemathesis found it)
    temperature: Annotated[float | None, Field(ge=0, le=2, strict=True)] = None
    idle_timeout_s: Annotated[int | None, Field(ge=5, le=3600, **NOT_NULL)] = None
    max_turns: Annotated[int | None, Field(ge=1, le=MAX_ROW_ID)] = None
    max_duration_s: Annotated[int | None, Field(ge=10, le=4 * 3600)] = None
    resume_grace_s: Annotated[
        float | None,
        Field(
            ge=0,
            le=3600,
            strict=True,
            description="Seconds an app session waits for a resume after its WebSocket drops "
            "(0: a drop ends it); null: KURA_RESUME_GRACE_S",
        ),
    ] = None
    transfer_number: E164 | None = None
    transfer_destinations: Annotated[list[TransferDestination] | None, Field(max_length=20)] = None
    transfer_ring_timeout_s: (
        Annotated[int, Field(ge=5, le=120, strict=True), WholeNumber] | None
    ) = None
    max_concurrent_calls: Annotated[int | None, Field(ge=1, le=100_000)] = None
    calling_hours: CallingHours | None = None
    recording: Literal["off", "mono", "dual"] | None = Field(
        default=None,
        description="Record sessions: off, mono (mixed) or dual (caller left, assistant right)",
    )
    recording_retention_days: Annotated[int | None, Field(ge=1, le=3650)] = Field(
        default=None, description="Days recordings are kept (default: the gateway's setting)"
    )
    events_url: Annotated[str | None, Field(max_length=2000, pattern=r"^https?://")] = Field(
        default=None,
        description="Where signed post-call events are POSTed (session.started, session.ended, "
        "call.transferred)",
    )


class CreateAssistantRequest(AssistantFields):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class AssistantView(BaseModel):
    id: int
    name: str
    provider: str
    fallback_provider: str | None = None
    model: str | None
    voice: str | None
    instructions: str
    greeting: str | None
    language_code: str
    tools: list[ToolDefinition]
    turn_detection: TurnDetectionSettings
    interruption: InterruptionFields
    temperature: float | None
    idle_timeout_s: int
    max_turns: int | None
    max_duration_s: int | None
    resume_grace_s: float | None = None
    transfer_number: str | None
    transfer_destinations: list[TransferDestination] = []
    transfer_ring_timeout_s: int | None = None
    max_concurrent_calls: int | None = None
    calling_hours: CallingHours | None = None
    recording: Literal["off", "mono", "dual"]
    recording_retention_days: int | None
    events_url: str | None
    created_at: datetime
    updated_at: datetime


class AssistantList(BaseModel):
    data: list[AssistantView]
    total: int
    limit: int | None
    offset: int


class AssistantQuery(_Request):
    limit: Annotated[int | None, Field(ge=1, le=100, description="Default: all")] = None
    offset: Annotated[int, Field(ge=0, le=MAX_ROW_ID)] = 0


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo
