"""Request fields whose OpenAPI description needs more than their Python type says.

- **Phone numbers.** The server's rule is libphonenumber's "possible number"
  (``sessions.phone.to_e164``), which no JSON Schema pattern can state: a pattern that allowed
  ``+999…`` (no such country) would promise numbers the server refuses. So the document names
  the rule as a format: ``e164`` (an international number; spaces and dashes allowed) or
  ``phone-number`` (``e164``, or a national number in the region of the session's
  ``language_code``). Validators treat unknown formats as annotations; schemathesis is told how
  to make such numbers (``tests/reliability/schemathesis_hooks.py``).
- **Time zones and origins.** The server takes an IANA zone name (``zoneinfo``) and an http(s)
  origin (``gateway.api.origins``); the document names them as the formats ``time-zone`` and
  ``origin`` rather than promise every string.
- **Optional but never null.** PATCH-style fields are ``X | None = None`` in Python so that
  "left out" can be told apart, but the API answers 422 to an explicit null for some of them;
  ``NOT_NULL`` drops null (and the ``None`` default) from their schema, so the document offers
  only what the server takes.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field


def not_null(schema: dict[str, Any]) -> None:
    """Drop null from a field's schema (``NOT_NULL``'s work, for extras that do more)."""
    branches = schema.pop("anyOf", None)
    if branches is not None:
        kept = [branch for branch in branches if branch.get("type") != "null"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    if "default" in schema and schema["default"] is None:
        del schema["default"]


NOT_NULL: dict[str, Any] = {"json_schema_extra": not_null}
"""``Field(**NOT_NULL)``: may be left out, never null."""

E164 = Annotated[str, Field(max_length=32, json_schema_extra={"format": "e164"})]
"""An international number, normalised to E.164 by the server."""
PhoneNumber = Annotated[str, Field(max_length=32, json_schema_extra={"format": "phone-number"})]
"""An international number, or a national one in the session language's region."""
TIME_ZONE: dict[str, Any] = {"format": "time-zone"}
"""An IANA time zone name, e.g. Europe/Paris."""
ORIGIN: dict[str, Any] = {"format": "origin"}
"""A browser origin: ``scheme://host[:port]``, http or https."""
