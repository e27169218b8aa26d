"""Request and response bodies of the keys API (``/api/v1/admin/keys``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.doc_fields import NOT_NULL, ORIGIN, not_null
from gateway.api.ids import RowId, WholeNumber
from gateway.api.permissions import ALL_PERMISSIONS, PUBLISHABLE_PERMISSIONS

KeyKind = Literal["secret", "publishable"]
SessionMode = Literal["chat", "voice"]
MAX_ORIGINS = 50  # a key for a handful of sites; a longer list belongs in KURA_ALLOWED_ORIGINS


def _items(items: dict[str, Any]) -> dict[str, Any]:
    """``Field(**_items(...))``: a list never null whose items the document describes."""

    def extra(schema: dict[str, Any]) -> None:
        not_null(schema)
        schema["items"] = {**schema.get("items", {}), **items}

    return {"json_schema_extra": extra}


# The rules between a new key's kind and its other fields (admin_keys._checked), as JSON Schema
# states them, so that a body the document calls valid is one the server takes (row 27).
_KIND_RULES: dict[str, Any] = {
    "if": {"properties": {"kind": {"const": "publishable"}}, "required": ["kind"]},
    "then": {
        "properties": {
            "permissions": {"const": PUBLISHABLE_PERMISSIONS},
            "allowed_origins": {"minItems": 1},
            "assistant_ids": {"minItems": 1},
            "session_modes": {"minItems": 1},
        },
        "required": ["allowed_origins", "assistant_ids"],  # the server has no default for them
    },
    "else": {"properties": {"assistant_ids": {"maxItems": 0}, "session_modes": {"maxItems": 0}}},
}


class KeyFields(BaseModel):
    """Key fields an admin may change; every one optional (PATCH semantics) and never null
    (the API answers 422), so the document offers no null for them."""

    model_config = ConfigDict(extra="forbid")  # a typo is a 422, never a silent no-op

    name: Annotated[str | None, Field(min_length=1, max_length=100, **NOT_NULL)] = None
    permissions: Annotated[
        list[str] | None,
        Field(
            description="Secret keys only; at most the permissions of the key that grants",
            **_items({"enum": list(ALL_PERMISSIONS)}),
        ),
    ] = None
    allowed_origins: Annotated[
        list[str] | None,
        Field(
            max_length=MAX_ORIGINS,
            description="Browser origins (scheme://host[:port]) this key may be used from",
            **_items(ORIGIN),
        ),
    ] = None
    assistant_ids: Annotated[
        list[RowId] | None,
        Field(
            description="Publishable keys only: the assistants it may create sessions for",
            **NOT_NULL,
        ),
    ] = None
    session_modes: Annotated[
        list[SessionMode] | None,
        Field(description="Publishable keys only: the session modes it may create", **NOT_NULL),
    ] = None
    rate_limit_per_minute: Annotated[
        Annotated[int, Field(ge=1, le=100_000, strict=True), WholeNumber] | None,
        Field(**NOT_NULL),
    ] = None


class CreateKeyRequest(KeyFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_KIND_RULES)

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: KeyKind = "secret"


class KeyView(BaseModel):
    id: int
    name: str
    kind: KeyKind
    prefix: str = Field(description="The key's first characters, to recognise it")
    permissions: list[str]
    allowed_origins: list[str]
    assistant_ids: list[int]
    session_modes: list[SessionMode]
    rate_limit_per_minute: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyView):
    secret: str = Field(description="The key itself: shown in this answer only, never again")


class KeyList(BaseModel):
    data: list[KeyView]
