"""Row ids and offsets as the API accepts them: bounded to what the database can hold.

PostgreSQL's INTEGER stops at 2**31 - 1; an id or offset beyond it reached the driver and came
back as a 500 (reliability.md row 27). No row has a larger id, so a larger path id is the same
404 as any unknown id, and a larger id or offset in a body or query is a 422.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from aiohttp import web
from pydantic import AwareDatetime, BeforeValidator, Field

from gateway.errors import NotFound

MAX_ROW_ID = 2**31 - 1
MAX_ID_DIGITS = len(str(MAX_ROW_ID))


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer is any number without a fractional part, ``185.0`` included (row
    27: schemathesis sent one, the document allows it); strict fields take it as ``185`` and
    still refuse ``false`` and ``"185"``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)
"""On an ``int`` field of a strict model: a JSON integer as JSON Schema counts them."""

RowId = Annotated[int, Field(gt=0, le=MAX_ROW_ID, strict=True), WholeNumber]
"""A row id in a JSON body (strict: ``"1"`` is not an id)."""
QueryRowId = Annotated[int, Field(gt=0, le=MAX_ROW_ID)]
"""A row id in a query string, where every value arrives as text."""
Offset = Annotated[int, Field(ge=0, le=MAX_ROW_ID)]


def path_id(request: web.Request, name: str, what: str) -> int:
    """A numeric path id; anything else (a Unicode digit such as ``²``, a number no row can
    have) is the same 404 as an unknown id."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_ID_DIGITS:
        raise NotFound(f"no {what} with this id")
    value = int(raw)
    if not 0 < value <= MAX_ROW_ID:
        raise NotFound(f"no {what} with this id")
    return value


def _iso_only(value: object) -> object:
    """Query values arrive as text, and pydantic reads ``0.5`` as seconds since 1970; the
    documented format is an ISO 8601 date-time, so only that is taken (a 422 otherwise)."""
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date-time such as 2026-01-26T12:00:00Z")
    return value


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
"""A date-time in a query: ISO 8601 with a zone, nothing pydantic would also read."""
