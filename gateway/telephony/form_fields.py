"""Fields of a carrier's form-encoded webhook, read the same way by every carrier's handlers."""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.errors import BadRequest


def call_sid(fields: Mapping[str, str], pattern: re.Pattern[str]) -> str:
    """The ``CallSid`` in the carrier's own shape; 400 if missing or malformed."""
    value = fields.get("CallSid", "")
    if not pattern.match(value):
        raise BadRequest("CallSid is missing or malformed")
    return value


def count(text: str | None) -> int | None:
    """A non-negative integer field (SequenceNumber, CallDuration), or ``None``."""
    if text and text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return None
