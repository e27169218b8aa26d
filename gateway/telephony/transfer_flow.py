"""A warm transfer's event applied on any node: the machine's step, stored by compare-and-set.

Twilio may post the human leg's webhooks to any node behind the public URL. Whichever node
gets one moves the ``call_transfers`` row (only from the state it read, so two nodes racing
on the same transfer never both move it) and does what concerns the leg itself (hanging it
up, through the REST API). What concerns the caller (bridge, or back to the assistant) is for
the node holding the caller's stream, which acts once it sees the row's final state
(``WarmTransfer``: at once when the event was its own, else on its next look at the row).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from gateway.sessions.events import PostCallEvents
from gateway.store import Store
from gateway.store.models import CallTransfer
from gateway.telephony import twiml
from gateway.telephony.transfer_machine import (
    ACTIVE,
    TransferAction,
    TransferEvent,
    TransferState,
    step,
)
from gateway.telephony.twilio_rest import TwilioRest
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
    rest: TwilioRest | None,
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
            await _leg_actions(store, rest, row, before, transition.actions)
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
        await _leg_actions(store, rest, row, before, transition.actions)
        if transition.state not in ACTIVE and told is not None:
            await tell_safely(told, row)
        return row
    log.warning("transfer event lost to racing nodes", extra={"transfer_id": transfer_id})
    return await store.transfers.get(transfer_id)


async def _leg_actions(
    store: Store,
    rest: TwilioRest | None,
    row: CallTransfer,
    before: TransferState,
    actions: tuple[TransferAction, ...],
) -> None:
    """What the node applying an event does itself (the caller's node does the rest)."""
    if "hang_up_leg" in actions:
        await hang_up_leg(rest, row, before)
    if "see_caller_out" in actions:
        await see_caller_out(store, rest, row)


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


async def see_caller_out(store: Store, rest: TwilioRest | None, row: CallTransfer) -> None:
    """The human left after the caller was sent to the conference: if the caller's call is
    still up (they reached the room after the human left it, so it is theirs alone and silent),
    it is taken out of the room with a goodbye. After a real conversation the conference ended
    with the human and so did the caller's call: nothing to do."""
    call = await store.calls.get_by_sid(row.call_sid)
    if rest is None or call is None or call.status in FINISHED_CALL:
        return
    if await rest.update_call(row.call_sid, twiml=twiml.say_and_hang_up(HUMAN_LEFT)):
        log.info("caller seen out of a transfer's conference", extra={"transfer_id": row.id})


async def caller_left(
    store: Store,
    rest: TwilioRest | None,
    clock: Clock,
    events: PostCallEvents | None,
    call_sid: str,
) -> None:
    """The caller's call is over. A warm transfer still bridging lost its caller (who hung up
    as the stream closed, so Twilio never asks where they go): the human waiting in the
    conference is hung up rather than left there in silence."""
    last = await store.transfers.latest(call_sid)
    if last is not None and last.mode == "warm" and last.state == "bridging":
        told = outcome_teller(store, events)
        await apply_event(store, rest, clock, last.id, "caller_gone", told=told)


async def hang_up_leg(rest: TwilioRest | None, row: CallTransfer, before: TransferState) -> None:
    """End the human's leg: Twilio cancels a leg still ringing, and completes an answered one."""
    if row.leg_sid is None or rest is None:
        return
    status = "canceled" if before in ("dialing", "ringing") else "completed"
    if not await rest.update_call(row.leg_sid, status=status):
        log.warning("transfer leg not hung up", extra={"transfer_id": row.id})
