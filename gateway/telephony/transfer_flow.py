"""A warm transfer's event applied on any node: the machine's step, stored by compare-and-set.

The carrier may post the human leg's webhooks to any node behind the public URL. Whichever node
gets one moves the ``call_transfers`` row (only from the state it read, so two nodes racing
on the same transfer never both move it) and does what concerns the leg itself (hanging it
up, through the carrier's REST API: ``TransferLegs``). What concerns the caller (bridge, or
back to the assistant) is for the node holding the caller's stream, which acts once it sees
the row's final state (``WarmTransfer``: at once when the event was its own, else on its next
look at the row).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from gateway.store import Store
from gateway.store.models import CallTransfer
from gateway.telephony.transfer_legs import TransferLegs
from gateway.telephony.transfer_machine import ACTIVE, TransferEvent, TransferState, step
from kinds.clock import Clock

log = logging.getLogger(__name__)

MAX_RACES = 5
"""Moves lost to another node before giving up (each loser re-reads the row and tries again)."""


def moved_fields(state: TransferState, now: datetime) -> dict[str, Any]:
    """The row's columns once it moves to ``state``."""
    fields: dict[str, Any] = {"state": state}
    if state == "whispering":
        fields["answered_at"] = now
    if state not in ACTIVE:
        fields["ended_at"] = now
    return fields


async def apply_event(
    store: Store, legs: TransferLegs | None, clock: Clock, transfer_id: str, event: TransferEvent
) -> CallTransfer | None:
    """Apply ``event`` to the stored transfer; the row after it (``None``: no such transfer)."""
    for _ in range(MAX_RACES):
        row = await store.transfers.get(transfer_id)
        if row is None:
            return None
        before: TransferState = row.state  # type: ignore[assignment]
        transition = step(before, event)
        if transition.state == before:
            return row
        fields = moved_fields(transition.state, clock.now())
        if not await store.transfers.move(transfer_id, before, fields):
            continue  # another node moved it first: read it again
        for name, value in fields.items():
            setattr(row, name, value)
        log.info(
            "transfer moved",
            extra={"transfer_id": transfer_id, "from": before, "to": transition.state},
        )
        if "hang_up_leg" in transition.actions:
            await hang_up_leg(legs, row, before)
        return row
    log.warning("transfer event lost to racing nodes", extra={"transfer_id": transfer_id})
    return await store.transfers.get(transfer_id)


async def hang_up_leg(legs: TransferLegs | None, row: CallTransfer, before: TransferState) -> None:
    """End the human's leg: cancelled while it still rings, hung up once answered."""
    if row.leg_sid is None or legs is None:
        return
    if not await legs.hang_up(row.leg_sid, answered=before == "whispering"):
        log.warning("transfer leg not hung up", extra={"transfer_id": row.id})
