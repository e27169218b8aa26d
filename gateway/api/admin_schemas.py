"""Request and response bodies of the phone-number and contact admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.doc_fields import E164, NOT_NULL
from gateway.api.ids import Offset, RowId
from gateway.api.schemas import AssistantRef, SessionView

Carrier = Literal["twilio", "telnyx", "plivo", "signalwire", "vonage"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo is a 422, never a silent no-op


class PageQuery(_Request):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Offset = 0


class NumberFields(_Request):
    """Phone-number fields an admin may change; every one optional (PATCH semantics)."""

    assistant_id: Annotated[RowId | None, Field(**NOT_NULL)] = None
    carrier: Annotated[Carrier | None, Field(**NOT_NULL)] = None
    label: Annotated[str | None, Field(max_length=200)] = None
    enabled: Annotated[bool | None, Field(strict=True, **NOT_NULL)] = None
    max_concurrent_calls: Annotated[int | None, Field(ge=1, le=100_000)] = None


class AssignNumberRequest(NumberFields):
    number: Annotated[E164, Field(min_length=1, description="E.164, e.g. +1555…")]
    assistant_id: RowId


class NumberView(BaseModel):
    id: int
    number: str
    carrier: Carrier
    assistant: AssistantRef
    label: str | None
    enabled: bool
    max_concurrent_calls: int | None = None
    created_at: datetime
    updated_at: datetime


class NumberPage(BaseModel):
    data: list[NumberView]
    total: int
    limit: int
    offset: int


class ContactQuery(PageQuery):
    phone_number: E164 | None = None
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None


def _only_true(schema: dict[str, Any]) -> None:
    schema.pop("default", None)
    schema.update({"const": True, "x-required": True})  # x-required: see openapi._parameters


class EraseQuery(_Request):
    erase: bool = Field(
        default=False,
        description="Must be true: the contact, its sessions' transcripts, numbers and "
        "metadata are erased for good",
        # The document asks for it (required, true); the server answers its own 422, naming
        # ?erase=true, when it is missing or false.
        json_schema_extra=_only_true,
    )


class ContactErased(BaseModel):
    contact_id: int
    sessions_erased: int
    turns_deleted: int


class ContactFields(_Request):
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = Field(
        description="The name the assistant is told; null clears it"
    )


class ContactView(BaseModel):
    id: int
    phone_number: str
    name: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    session_count: int


class ContactDetail(ContactView):
    sessions: list[SessionView] = Field(description="The most recent sessions, newest first")


class ContactPage(BaseModel):
    data: list[ContactView]
    total: int
    limit: int
    offset: int
