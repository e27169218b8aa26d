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
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from gateway.sessions.events import PostCallEvents
from gateway.store import Store
from gateway.store.models import CallTransfer
from gateway.telephony.transfer_legs import TransferLegs
from gateway.telephony.transfer_machine import (
    ACTIVE,
    TransferAction,
    TransferEvent,
    TransferState,
    step,
)
from kinds.clock import Clock

log = logging.getLogger(__name__)

MAX_RACES = 5
"""Moves lost to another node before giving up (each loser re-reads the row and tries again)."""
HUMAN_LEFT = "The person you were transferred to has left the call. Goodbye."
FINISHED_CALL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

Told = Callable[[CallTransfer], Awaitable[None]]
"""Tells a finished transfer's outcome (the ``call.transferred`` event)."""


def moved_fields(state: TransferState, now: datetime) -> dict[str, Any]:
    """The row's columns once it moves to ``state``."""
    fields: dict[str, Any] = {"state": state}
    if state == "whispering":
        fields["answered_at"] = now
    if state not in ACTIVE:
        fields["ended_at"] = now
    return fields


async def apply_event(
    store: Store,
    legs: TransferLegs | None,
    clock: Clock,
    transfer_id: str,
    event: TransferEvent,
    *,
    told: Told | None = None,
) -> CallTransfer | None:
    """Apply ``event`` to the stored transfer; the row after it (``None``: no such transfer).
    ``told`` tells the outcome when this move ends the transfer: a move is made once, by
    whichever node wins it, so the outcome is told once, however many nodes saw it."""
    for _ in range(MAX_RACES):
        row = await store.transfers.get(transfer_id)
        if row is None:
            return None
        before: TransferState = row.state  # type: ignore[assignment]
        transition = step(before, event)
        if transition.state == before:
            await _leg_actions(store, legs, row, before, transition.actions)
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
        await _leg_actions(store, legs, row, before, transition.actions)
        if transition.state not in ACTIVE and told is not None:
            await tell_safely(told, row)
        return row
    log.warning("transfer event lost to racing nodes", extra={"transfer_id": transfer_id})
    return await store.transfers.get(transfer_id)


async def _leg_actions(
    store: Store,
    legs: TransferLegs | None,
    row: CallTransfer,
    before: TransferState,
    actions: tuple[TransferAction, ...],
) -> None:
    """What the node applying an event does itself (the caller's node does the rest)."""
    if "hang_up_leg" in actions:
        await hang_up_leg(legs, row, before)
    if "see_caller_out" in actions:
        await see_caller_out(store, legs, row)


async def tell_safely(told: Told, row: CallTransfer) -> None:
    try:
        await told(row)
    except Exception:  # the outcome is stored; a lost event must not break the call
        log.exception("transfer outcome not told", extra={"transfer_id": row.id})


def outcome_teller(store: Store, events: PostCallEvents | None) -> Told | None:
    """``call.transferred`` for a transfer whose caller's node has let go of it."""
    if events is None:
        return None

    async def told(row: CallTransfer) -> None:
        session = await store.sessions.get(row.session_id)
        if session is None or events is None:
            return
        assistant = await store.assistants.get(session.assistant_id, include_deleted=True)
        if assistant is not None:
            await events.call_transferred(
                session.id, assistant, destination=row.destination_number, mode=row.mode,
                outcome=row.state, destination_name=row.destination_name,
                started_at=row.started_at, answered_at=row.answered_at, ended_at=row.ended_at,
            )  # fmt: skip

    return told


async def see_caller_out(store: Store, legs: TransferLegs | None, row: CallTransfer) -> None:
    """The human left after the caller was sent to the conference: if the caller's call is
    still up (they reached the room after the human left it, so it is theirs alone and silent),
    it is taken out of the room with a goodbye. After a real conversation the conference ended
    with the human and so did the caller's call: nothing to do."""
    call = await store.calls.get_by_sid(row.call_sid)
    if legs is None or call is None or call.status in FINISHED_CALL:
        return
    if await legs.see_out(row.call_sid, HUMAN_LEFT):
        log.info("caller seen out of a transfer's conference", extra={"transfer_id": row.id})


async def caller_left(
    store: Store,
    legs: TransferLegs | None,
    clock: Clock,
    events: PostCallEvents | None,
    call_sid: str,
) -> None:
    """The caller's call is over. A warm transfer still bridging lost its caller (who hung up
    as the stream closed, so their carrier never asks where they go): the human waiting in the
    conference is hung up rather than left there in silence."""
    last = await store.transfers.latest(call_sid)
    if last is not None and last.mode == "warm" and last.state == "bridging":
        told = outcome_teller(store, events)
        await apply_event(store, legs, clock, last.id, "caller_gone", told=told)


async def hang_up_leg(legs: TransferLegs | None, row: CallTransfer, before: TransferState) -> None:
    """End the human's leg: cancelled while it still rings, hung up once answered (whispering,
    or waiting in the conference)."""
    if row.leg_sid is None or legs is None:
        return
    if not await legs.hang_up(row.leg_sid, answered=before not in ("dialing", "ringing")):
        log.warning("transfer leg not hung up", extra={"transfer_id": row.id})
