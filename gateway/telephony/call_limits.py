"""Concurrent-call limits: the deployment's settings and the slot keys a call holds.

Kept apart from the call service because the limits are shared by inbound and outbound calls
and change with the deployment's settings, not with how a call is answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.state.call_slots import slot_keys
from gateway.store.models import Assistant, PhoneNumber

SLOT_MARGIN_S = 120.0  # a slot's lease outlives the call's ring time and hard limit by this


@dataclass(frozen=True, slots=True)
class CallLimits:
    """Deployment-wide call limits (settings)."""

    max_concurrent_calls: int | None = None
    max_duration_s: int = 3600
    ring_timeout_s: int = 30


def call_limits(number: PhoneNumber, assistant: Assistant, limits: CallLimits) -> dict[str, int]:
    """The slot keys a call on ``number`` with ``assistant`` holds, and their limits."""
    return slot_keys(
        assistant.id,
        number.id,
        {"global": limits.max_concurrent_calls, "assistant": assistant.max_concurrent_calls,
         "number": number.max_concurrent_calls},
    )  # fmt: skip


def slot_lease_s(limits: CallLimits, max_s: int | None) -> float:
    """How long a call's slots are leased: its ring time and hard limit, plus a margin, so a
    lost node's slots free themselves."""
    return limits.ring_timeout_s + (max_s or limits.max_duration_s) + SLOT_MARGIN_S
