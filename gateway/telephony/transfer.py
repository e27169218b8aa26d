"""A warm transfer, on the node holding the caller: ring the human, then bridge the caller to
them or bring the caller back to the assistant.

``WarmTransfer`` puts the caller on hold and places the human's leg through the carrier's REST
API (``transfer_legs``, the carrier seam). Its events (the leg's callbacks, taken by
``transfer_webhooks`` on whichever node the carrier reaches, the caller hanging up, the guard
deadline) move the ``call_transfers`` row through the pure state machine
(``transfer_flow.apply_event``; the node making a final move tells the outcome as a
``call.transferred`` event). Once the row is decided this node acts for the caller: hand over
(``bridging``: the assistant's session ends; what follows the stream,
``CallService.after_stream``, joins the caller to the human's conference, or apologises if the
human has hung up meanwhile) or take the caller off hold and tell the assistant what happened.
It learns an outcome at once when the event was its own, else at its next look at the row
(every ``WATCH_S``).

The leg's callback URLs name the transfer by its random id, never a number; the webhooks are
signed by the carrier and must come from the leg the transfer placed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.store import Store
from gateway.store.models import CallTransfer
from gateway.telephony.transfer_flow import Told, apply_event, moved_fields, tell_safely
from gateway.telephony.transfer_legs import LegPlan, TransferLegs
from gateway.telephony.transfer_line import TransferLine
from gateway.telephony.transfer_machine import ACTIVE, TransferEvent, TransferState, caller_action
from kinds.clock import Clock

log = logging.getLogger(__name__)

GUARD_MARGIN_S = 15
"""Beyond the ring and whisper time-outs the carrier enforces itself: callbacks never coming."""
WATCH_S = 1.0
"""How often the caller's node looks at the row for an outcome another node stored."""

OUTCOME_NOTES: dict[TransferState, str] = {
    "declined": "declined the call",
    "no_answer": "did not answer",
    "busy": "was busy",
    "failed": "could not be reached",
    "dropped": "accepted the call but hung up before it was put through",
}


def back_note(destination: str, state: TransferState) -> str:
    """What the assistant is told when the caller comes back (no number in it)."""
    what = OUTCOME_NOTES.get(state, "could not take the call")
    return (
        f"(Transfer update, not said by the caller: {destination} {what}. The caller is back "
        "with you and heard only hold music meanwhile. Tell them, and carry on helping them.)"
    )


class WarmTransfer:
    """One warm transfer, on the node holding the caller: from dialling the human to the
    caller's side of its outcome."""

    def __init__(
        self,
        row: CallTransfer,
        *,
        legs: TransferLegs,
        line: TransferLine,
        store: Store,
        clock: Clock,
        told: Told,
    ) -> None:
        self.row = row
        self._legs = legs
        self._line = line
        self._store = store
        self._clock = clock
        self._told = told
        self._lock = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def state(self) -> TransferState:
        return self.row.state  # type: ignore[return-value]

    async def start(self, leg: LegPlan) -> bool:
        """Put the caller on hold and place the human's leg; ``False`` if it could not be
        placed (the transfer is then over, as ``failed``, and the caller off hold)."""
        self._line.hold()
        try:
            leg_sid = await self._legs.place(leg)
        except Exception:  # CarrierFailed, logged by the client; any other failure alike
            # The tool's result says so: no note on top of it.
            await self._store.transfers.move(
                self.id, "dialing", moved_fields("failed", self._clock.now())
            )
            self.row.state = "failed"
            await self._line.release(None)
            self._settled()
            await tell_safely(self._told, self.row)
            return False
        if leg_sid:  # else the leg's first webhook tells it (transfer_webhooks)
            self.row.leg_sid = leg_sid
            await self._store.transfers.update(self.id, {"leg_sid": leg_sid})
        deadline_s = leg.ring_timeout_s + leg.whisper_timeout_s + GUARD_MARGIN_S
        self._watch = asyncio.create_task(self._follow(deadline_s), name="transfer-watch")
        return True

    async def on_event(self, event: TransferEvent) -> TransferState:
        """Apply one event seen on this node; the state after it."""
        row = await apply_event(
            self._store, self._legs, self._clock, self.id, event, told=self._told
        )
        if row is not None:
            await self.settle(row)
        return self.state

    async def settle(self, row: CallTransfer) -> None:
        """Take in the stored row; once it is decided, act on the caller's side (once)."""
        async with self._lock:
            for name in ("state", "answered_at", "ended_at"):
                setattr(self.row, name, getattr(row, name))
            if self.finished.is_set():
                return
            action = caller_action(self.state)
            # The outcome is told by whichever node made the final move (``apply_event``).
            if action == "bridge":
                await self._line.hand_over()  # the caller's webhook finishes the bridge
            elif self.state in ACTIVE:
                return
            elif action == "return_to_assistant":
                name = self.row.destination_name or "your colleague"
                await self._line.release(back_note(name, self.state))
            self._settled()

    def _settled(self) -> None:
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        self.finished.set()

    async def _follow(self, deadline_s: float) -> None:
        """Look at the row every ``WATCH_S`` (another node may have taken the leg's webhook);
        at the deadline, the callbacks that never came time the transfer out."""
        deadline = self._clock.monotonic() + deadline_s
        while (left_s := deadline - self._clock.monotonic()) > 0:
            await self._clock.sleep(min(WATCH_S, left_s))
            row = await self._store.transfers.get(self.id)
            if row is not None and (row.state not in ACTIVE or row.state == "bridging"):
                await self.settle(row)
                return
        log.warning("transfer timed out", extra={"transfer_id": self.id, "state": self.state})
        await self.on_event("timeout")

    async def aclose(self) -> None:
        """The caller's stream is over: a transfer still in play loses its caller (unless the
        stream closed to bridge the caller: what follows it asks where the caller goes)."""
        if self.state in ACTIVE and self.state != "bridging":
            await self.on_event("caller_gone")
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch


class LiveTransfers:
    """The warm transfers in play on this node, by id, for the leg's webhooks to find."""

    def __init__(self) -> None:
        self._by_id: dict[str, WarmTransfer] = {}

    def add(self, transfer: WarmTransfer) -> None:
        self._by_id[transfer.id] = transfer

    def get(self, transfer_id: str) -> WarmTransfer | None:
        return self._by_id.get(transfer_id)

    def remove(self, transfer: WarmTransfer) -> None:
        if self._by_id.get(transfer.id) is transfer:
            del self._by_id[transfer.id]
