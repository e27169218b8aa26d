"""Caller IDs from carrier webhooks: an E.164 number, or ``None`` when the caller has none.

Withheld callers reach Twilio as words (``anonymous``), as those words spelled on a keypad
(``+266696687`` is A-N-O-N-Y-M-O-U-S), as an empty field, as a ``client:`` identity or a SIP
URI. None of these is a person we can recognise, so such calls get a session but no contact.
"""

from __future__ import annotations

from gateway.errors import ValidationFailed
from gateway.sessions.phone import to_e164

WITHHELD_WORDS = frozenset(
    {"anonymous", "restricted", "unknown", "private", "blocked", "unavailable", "withheld"}
)
# The same words dialled on a phone keypad, as carriers report them in E.164 form.
WITHHELD_KEYPAD_NUMBERS = frozenset(
    {
        "+266696687",  # ANONYMOUS
        "+7378742833",  # RESTRICTED
        "+8656696",  # UNKNOWN
        "+2562533",  # BLOCKED
    }
)


def caller_number(raw: str | None) -> str | None:
    """The caller's E.164 number, or ``None`` for a withheld or non-telephone caller ID."""
    text = (raw or "").strip()
    lowered = text.lower()
    if not text or lowered in WITHHELD_WORDS or text in WITHHELD_KEYPAD_NUMBERS:
        return None
    if ":" in text or "@" in text:  # client:alice, sip:alice@example.com
        return None
    if not text.startswith("+"):  # carriers send E.164; a bare local number is ambiguous
        return None
    try:
        number = to_e164(text)
    except ValidationFailed:
        return None
    return None if number in WITHHELD_KEYPAD_NUMBERS else number


def dialled_number(raw: str | None) -> str | None:
    """The number that was called (``To``) in E.164, or ``None`` if it is not a number."""
    text = (raw or "").strip()
    if not text.startswith("+"):
        return None
    try:
        return to_e164(text)
    except ValidationFailed:
        return None
