"""REST request and response bodies (pydantic v2); the OpenAPI document is built from them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.api.doc_fields import E164, NOT_NULL, PhoneNumber
from gateway.api.ids import MAX_ROW_ID, RowId

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


class CreateSessionRequest(_Request):
    assistant_id: Annotated[RowId, Field(description="Assistant ID")]
    mode: Literal["voice", "chat"] = "voice"
    phone_number: PhoneNumber | None = None
    language_code: Annotated[str, Field(pattern=BCP47, max_length=35)] = "en-US"
    metadata: Annotated[dict[str, Any] | None, AfterValidator(_bounded_metadata)] = None


class AssistantRef(BaseModel):
    id: int
    name: str


class SessionCreated(BaseModel):
    session_id: str
    mode: Literal["voice", "chat"]
    websocket_url: str
    expires_at: datetime
    assistant: AssistantRef


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


class SessionPage(BaseModel):
    data: list[SessionView]
    total: int
    limit: int
    offset: int


class TurnView(BaseModel):
    seq: int
    role: Literal["user", "assistant"]
    text: str
    started_at: datetime
    ended_at: datetime
    interrupted: bool


class Transcript(BaseModel):
    session_id: str
    turns: list[TurnView]


class ToolDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    description: Annotated[str, Field(max_length=1024)] = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    webhook_url: Annotated[str | None, Field(max_length=2048)] = None


class TurnDetectionSettings(BaseModel):
    # strict: JSON numbers and booleans as such (lax parsing took `false` as 0 ms)
    model_config = ConfigDict(extra="forbid", strict=True)

    server_vad: bool = True
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    silence_ms: Annotated[int, Field(ge=100, le=5000)] = 500
    prefix_padding_ms: Annotated[int, Field(ge=0, le=2000)] = 300


class AssistantFields(_Request):
    """Assistant fields an admin may set; every one optional (PATCH semantics)."""

    name: Annotated[str | None, Field(min_length=1, max_length=200, **NOT_NULL)] = None
    provider: Annotated[str | None, Field(pattern=r"^[a-z0-9_-]{1,40}$", **NOT_NULL)] = None
    model: Annotated[str | None, Field(max_length=200)] = None
    voice: Annotated[str | None, Field(max_length=100)] = None
    instructions: Annotated[str | None, Field(max_length=32_000)] = None
    greeting: Annotated[str | None, Field(max_length=2000)] = None
    language_code: Annotated[str | None, Field(pattern=BCP47, max_length=35, **NOT_NULL)] = None
    tools: list[ToolDefinition] | None = None
    turn_detection: TurnDetectionSettings | None = None
    # strict: a number, not `false` (lax parsing took it as 0.0; schemathesis found it)
    temperature: Annotated[float | None, Field(ge=0, le=2, strict=True)] = None
    idle_timeout_s: Annotated[int | None, Field(ge=5, le=3600, **NOT_NULL)] = None
    max_turns: Annotated[int | None, Field(ge=1, le=MAX_ROW_ID)] = None
    max_duration_s: Annotated[int | None, Field(ge=10, le=4 * 3600)] = None
    transfer_number: E164 | None = None


class CreateAssistantRequest(AssistantFields):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class AssistantView(BaseModel):
    id: int
    name: str
    provider: str
    model: str | None
    voice: str | None
    instructions: str
    greeting: str | None
    language_code: str
    tools: list[ToolDefinition]
    turn_detection: TurnDetectionSettings
    temperature: float | None
    idle_timeout_s: int
    max_turns: int | None
    max_duration_s: int | None
    transfer_number: str | None
    created_at: datetime
    updated_at: datetime


class AssistantList(BaseModel):
    data: list[AssistantView]


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
