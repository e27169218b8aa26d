"""Campaign-safe input for outbound calls: who may be called, and when.

Pure functions over the request and the stored assistant; each refusal is a 422 that names
the field and says why, so a campaign tool can show it as it is.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from gateway.errors import ValidationFailed

_PREMIUM = frozenset({PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST})
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def callee_number(raw: str, *, allow_premium: bool) -> str:
    """``to`` as E.164; refused unless it is a full international number (``+`` and country
    code), and, unless allowed, when it is premium-rate, shared-cost or a short code."""
    text = raw.strip()
    if not text.startswith("+"):
        raise _refuse("to", "expected an E.164 number with its country code, e.g. +14155550100")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise _refuse("to", "not a phone number; expected E.164, e.g. +14155550100") from None
    if not allow_premium:
        if shortnumberinfo.is_valid_short_number(parsed):
            raise _refuse("to", "short codes are refused (KURA_OUTBOUND_ALLOW_PREMIUM)")
        if phonenumbers.number_type(parsed) in _PREMIUM:
            raise _refuse(
                "to",
                "premium-rate and shared-cost numbers are refused (KURA_OUTBOUND_ALLOW_PREMIUM)",
            )
    if not phonenumbers.is_possible_number(parsed):
        raise _refuse("to", "not a possible phone number for its country")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _clock_time(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise _refuse(field, "expected HH:MM") from None


def check_calling_hours(hours: dict[str, Any] | None, now: datetime) -> None:
    """Refuse a call outside the assistant's calling hours (``None``: any time). The window
    is local to its time zone and may run past midnight (``22:00``–``06:00``)."""
    if not hours:
        return
    try:
        zone = ZoneInfo(str(hours.get("time_zone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise _refuse("assistant.calling_hours", "unknown time zone") from None
    local = now.astimezone(zone)
    start = _clock_time(hours.get("start", "00:00"), "assistant.calling_hours.start")
    end = _clock_time(hours.get("end", "23:59"), "assistant.calling_hours.end")
    days = hours.get("days")
    at = local.time().replace(tzinfo=None)
    within = start <= at < end if start <= end else (at >= start or at < end)
    on_day = days is None or local.weekday() in days
    if not (within and on_day):
        window = f"{start:%H:%M}-{end:%H:%M} {zone.key}"
        if days is not None:
            window += " on " + ", ".join(DAY_NAMES[d] for d in sorted(days) if 0 <= d < 7)
        raise ValidationFailed(
            f"outside the assistant's calling hours ({window}); it is {local:%A %H:%M} there",
            details=[{"field": "assistant_id", "message": f"calls allowed {window}"}],
        )


def request_fingerprint(fields: dict[str, Any]) -> str:
    """A digest of what a call request asks for, to tell a true retry from a reused key."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def idempotency_digest(api_key_id: int | None, key: str) -> str:
    """What is stored of an ``Idempotency-Key``: scoped to the API key that sent it."""
    return hashlib.sha256(f"{api_key_id}|{key}".encode()).hexdigest()
