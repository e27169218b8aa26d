"""Phone numbers to E.164, with the ``phonenumbers`` library (Google's libphonenumber data)."""

from __future__ import annotations

import phonenumbers

from gateway.errors import ValidationFailed


def region_of(language_code: str) -> str | None:
    """The region part of a BCP-47 tag (``en-US`` → ``US``), used for national numbers."""
    parts = language_code.replace("_", "-").split("-")
    regions = [p for p in parts[1:] if len(p) == 2 and p.isalpha()]
    return regions[0].upper() if regions else None


def to_e164(number: str, *, default_region: str | None = None, field: str = "phone_number") -> str:
    """Normalise a number to E.164 (``+15550001111``); raise ``ValidationFailed`` if it is none."""
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed(
            f"{field} is not a phone number",
            details=[{"field": field, "message": "expected an E.164 number such as +15550001111"}],
        )
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
