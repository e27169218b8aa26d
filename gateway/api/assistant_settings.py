"""Structured assistant settings (turn detection, calling hours, interruption policy, transfer
destinations): the parts of an assistant's body that are objects of their own."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.api.doc_fields import E164, TIME_ZONE
from gateway.api.ids import WholeNumber


class TurnDetectionSettings(BaseModel):
    # strict: JSON numbers and booleans as such (lax parsing took `false` as 0 ms)
    model_config = ConfigDict(extra="forbid", strict=True)

    server_vad: bool = True
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    silence_ms: Annotated[int, Field(ge=100, le=5000), WholeNumber] = 500
    prefix_padding_ms: Annotated[int, Field(ge=0, le=2000), WholeNumber] = 300


class CallingHours(BaseModel):
    """When an assistant may place calls: a daily window in a time zone, on some days."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as documented

    start: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "09:00"
    end: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "18:00"
    time_zone: Annotated[
        str,
        Field(max_length=64, description="IANA, e.g. Europe/Paris", json_schema_extra=TIME_ZONE),
    ] = "UTC"
    days: Annotated[
        list[Annotated[int, Field(ge=0, le=6, strict=True), WholeNumber]] | None,
        Field(description="0 is Monday; null: every day"),
    ] = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (use an IANA name such as Europe/Paris)") from None
        return value


class InterruptionFields(BaseModel):
    """When a caller talking over the assistant on a call takes the turn (see the README)."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as documented

    min_speech_ms: Annotated[int, Field(ge=100, le=3000), WholeNumber] = 620
    min_words: Annotated[int | None, Field(ge=1, le=20), WholeNumber] = None
    backchannel_filter: Literal["on", "off"] = "on"
    resume_after_false_ms: Annotated[int, Field(ge=100, le=5000), WholeNumber] = 500


class TransferDestination(BaseModel):
    """A place the assistant's ``transfer_call`` may send a caller, by name."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")]
    number: E164
    description: Annotated[str, Field(max_length=500)] = ""
