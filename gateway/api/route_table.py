"""What one REST route is: its handler and what the OpenAPI document says of it.

Apart from ``routes`` (the table itself) so the OpenAPI builder can read routes without
importing the table that serves its document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from gateway.api.auth import Handler

VERSION = "0.1.0"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    operation_id: str
    ok_status: int = 200
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    tags: tuple[str, ...] = field(default=("sessions",))
    also: tuple[int, ...] = ()
    """Other statuses that answer with the same ``response`` model (readiness: 503)."""
    errors: tuple[int, ...] = ()
    """Error statuses beyond the usual ones (the error shape; see ``openapi.EXTRA_ERRORS``)."""
