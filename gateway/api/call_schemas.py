"""Request and response bodies of ``/api/v1/calls``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gateway.api.doc_fields import E164
from gateway.api.ids import IsoDatetime, Offset, QueryRowId, RowId
from gateway.api.schemas import _bounded_metadata

CallStatus = Literal[
    "queued", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"
]


# ``_message_for_voicemail`` as the document states it (row 27).
_VOICEMAIL_NEEDS_A_MESSAGE: dict[str, Any] = {
    "if": {"properties": {"machine_detection": {"const": "leave_message"}},
           "required": ["machine_detection"]},
    "then": {"properties": {"voicemail_message": {"type": "string"}},
             "required": ["voicemail_message"]},
}  # fmt: skip


class CreateCallRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra=_VOICEMAIL_NEEDS_A_MESSAGE
    )

    assistant_id: RowId
    to: Annotated[E164, Field(min_length=2, description="E.164, e.g. +14155550100")]
    from_: Annotated[
        E164,
        Field(alias="from", min_length=2,
              description="A number routed to Kura (POST /api/v1/admin/numbers)"),
    ]  # fmt: skip
    metadata: Annotated[dict[str, Any] | None, AfterValidator(_bounded_metadata)] = None
    greeting: Annotated[
        str | None, Field(max_length=2000, description="Replaces the assistant's greeting")
    ] = None
    instructions: Annotated[
        str | None,
        Field(max_length=32_000, description="Replaces the assistant's instructions"),
    ] = None
    machine_detection: Literal["off", "detect", "leave_message"] = Field(
        default="off",
        description="Answering machines: `detect` hangs up on one (end_reason `voicemail`); "
        "`leave_message` says `voicemail_message` once after the beep, then hangs up.",
    )
    voicemail_message: Annotated[str | None, Field(min_length=1, max_length=1000)] = None
    max_duration_s: Annotated[
        int | None, Field(ge=10, le=4 * 3600, description="Hard limit from the answer")
    ] = None

    @model_validator(mode="after")
    def _message_for_voicemail(self) -> CreateCallRequest:
        if self.machine_detection == "leave_message" and not self.voicemail_message:
            raise ValueError("machine_detection leave_message needs a voicemail_message")
        return self


class TransferView(BaseModel):
    """One transfer the call's assistant asked for, and what came of it."""

    mode: Literal["cold", "warm"]
    destination: str
    destination_name: str | None
    outcome: str = Field(
        description="`dialed` (cold); warm: `dialing`, `ringing`, `whispering`, `bridging` while "
        "in play, then `accepted`, `declined`, `no_answer`, `busy`, `failed`, `caller_gone` or "
        "`dropped` (accepted, then hung up before the caller was put through)"
    )
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None


class CallView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    session_id: str
    status: CallStatus
    direction: Literal["inbound", "outbound"]
    from_: str | None = Field(alias="from")
    to: str
    carrier: str
    call_sid: str | None = Field(description="The carrier's id; null until the carrier has it")
    assistant_id: int | None
    answered_by: Literal["human", "machine", "unknown"] | None
    machine_detection: Literal["off", "detect", "leave_message"]
    end_reason: str | None
    duration_s: int | None
    max_duration_s: int | None
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    transfers: list[TransferView] | None = Field(
        default=None, description="Transfers, oldest first; given by GET /api/v1/calls/{id}"
    )


class CallPage(BaseModel):
    data: list[CallView]
    total: int
    limit: int
    offset: int


class CallQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CallStatus | None = None
    direction: Literal["inbound", "outbound"] | None = None
    number: Annotated[E164 | None, Field(description="Either party")] = None
    assistant_id: QueryRowId | None = None
    created_after: IsoDatetime | None = None
    created_before: IsoDatetime | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Offset = 0
