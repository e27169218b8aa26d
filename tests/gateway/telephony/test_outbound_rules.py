"""Campaign-safe input: who may be called, and when (pure functions, fixed times)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.errors import ValidationFailed
from gateway.telephony.outbound_rules import callee_number, check_calling_hours

# Wednesday 2026-01-28, 08:30 UTC = 09:30 in Paris = 03:30 in New York.
NOW = datetime(2026, 1, 28, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "allowed"),
    [
        (None, True),
        ({"start": "09:00", "end": "18:00", "time_zone": "Europe/Paris"}, True),
        ({"start": "09:00", "end": "18:00", "time_zone": "America/New_York"}, False),
        ({"start": "22:00", "end": "06:00", "time_zone": "America/New_York"}, True),  # midnight
        ({"start": "09:00", "end": "18:00", "time_zone": "Europe/Paris", "days": [0, 1]}, False),
        ({"start": "09:00", "end": "18:00", "time_zone": "Europe/Paris", "days": [2]}, True),
        ({"start": "09:30", "end": "10:00", "time_zone": "Europe/Paris"}, True),  # start is in
        ({"start": "08:00", "end": "09:30", "time_zone": "Europe/Paris"}, False),  # end is out
    ],
)
def test_calling_hours(hours: dict[str, object] | None, allowed: bool) -> None:
    if allowed:
        check_calling_hours(hours, NOW)
        return
    with pytest.raises(ValidationFailed) as refused:
        check_calling_hours(hours, NOW)
    assert "outside the assistant's calling hours" in refused.value.message
    assert "Wednesday" in refused.value.message


@pytest.mark.parametrize(
    ("raw", "allow", "expected"),
    [
        ("+14155550100", False, "+14155550100"),
        ("+44 7911 123456", False, "+447911123456"),
        ("+19005550123", True, "+19005550123"),
    ],
)
def test_callee_numbers_accepted(raw: str, allow: bool, expected: str) -> None:
    assert callee_number(raw, allow_premium=allow) == expected


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("4155550100", "E.164"),
        ("+1abc", "not a phone number"),
        ("+19005550123", "premium"),
        ("+1415", "not a possible"),
    ],
)
def test_callee_numbers_refused(raw: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        callee_number(raw, allow_premium=False)
    assert words in refused.value.message
    assert refused.value.details[0]["field"] == "to"
