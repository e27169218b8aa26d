"""A call's answer to the assistant's ``transfer_call``: where to, cold or warm, and its record.

The destination is one of the assistant's own: a name from its ``transfer_destinations``, or
(none named) its ``transfer_number``. A number the model makes up is refused: a caller must not
be able to talk the assistant into dialling anywhere. ``cold`` is the ``<Dial>`` after the
stream, as ever. ``warm`` needs a carrier whose capability record says it can (Twilio,
SignalWire, Telnyx, Plivo), its REST settings and a call it can bridge; without them the transfer
goes cold, with a log line and a tool result that say so.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from gateway.context import GatewayContext
from gateway.store.models import Assistant, Call, CallTransfer, Session
from gateway.telephony.bridge import CallBridge
from gateway.telephony.carriers.codec import CarrierCapabilities
from gateway.telephony.service import Telephony
from gateway.telephony.transfer import WarmTransfer
from gateway.telephony.transfer_legs import LegPlan, TransferLegs
from gateway.telephony.transfer_line import TransferLine
from providers.events import ToolCall

log = logging.getLogger(__name__)

MAX_SUMMARY_CHARS = 600
COLD_NOTE = "The call is transferred when you finish speaking."
WARM_NOTE = (
    "Your colleague is being dialled; the caller now hears a soft hold chime. Say nothing "
    "until you are told what happened: if nobody takes the call, the caller is back with you."
)
NO_WARM_NOTE = "A warm transfer is not possible on this line: the caller is put straight through."
NO_TRANSFER = (
    "Transfers are not possible on this line: tell the caller so, and keep helping them "
    "(offer to take a message if they need a person)."
)


@dataclass(frozen=True, slots=True)
class Destination:
    name: str | None
    number: str


def resolve(assistant: Assistant, wanted: object) -> Destination | str:
    """The assistant's destination the model asked for; an error message if there is none."""
    destinations = assistant.transfer_destinations or []
    if isinstance(wanted, str) and wanted.strip():
        key = wanted.strip().casefold()
        for entry in destinations:
            if key in (entry["name"].casefold(), entry["number"]):
                return Destination(entry["name"], entry["number"])
        if key == assistant.transfer_number:
            return Destination(None, key)
        names = ", ".join(entry["name"] for entry in destinations) or "none"
        return f"unknown transfer destination; the destinations are: {names}"
    if assistant.transfer_number:
        return Destination(None, assistant.transfer_number)
    if len(destinations) == 1:
        return Destination(destinations[0]["name"], destinations[0]["number"])
    return "say which destination to transfer to"


class TransferDesk:
    """One call's transfers: the tool's answers, and the warm transfer in play (at most one)."""

    def __init__(
        self,
        ctx: GatewayContext,
        telephony: Telephony,
        capabilities: CarrierCapabilities,
        *,
        call_sid: str,
        session: Session,
        bridge: CallBridge,
        line: TransferLine,
    ) -> None:
        self._ctx = ctx
        self._telephony = telephony
        self._capabilities = capabilities
        self._call_sid = call_sid
        self._session = session
        self._bridge = bridge
        self._line = line
        self.warm: WarmTransfer | None = None

    async def answer(self, call: ToolCall) -> dict[str, Any]:
        """The ``transfer_call`` tool's result."""
        store = self._ctx.store
        assistant = await store.assistants.get(self._session.assistant_id, include_deleted=True)
        row = await store.calls.get_by_sid(self._call_sid)
        if assistant is None or row is None:
            return {"error": "transfer is not possible on this call"}
        destination = resolve(assistant, call.arguments.get("destination"))
        if isinstance(destination, str):
            return {"error": destination}
        if self.warm is not None and not self.warm.finished.is_set():
            return {"error": "a transfer is already in progress"}
        if call.arguments.get("mode") != "warm":
            return await self._cold(destination)
        legs = self._telephony.transfer_legs(self._capabilities.name)
        if (why_not := self._why_not_warm(legs, row)) is None and legs is not None:
            return await self._warm(legs, assistant, row, destination, call.arguments)
        log.warning(
            "warm transfer not supported here; transferring cold",
            extra={"carrier": self._capabilities.name, "reason": why_not,
                   "session_id": self._session.id},
        )  # fmt: skip
        result = await self._cold(destination)
        return result if "error" in result else {**result, "note": f"{NO_WARM_NOTE} {COLD_NOTE}"}

    def _why_not_warm(self, legs: TransferLegs | None, call: Call) -> str | None:
        """Why this call cannot be transferred warm; ``None`` if it can."""
        if not self._capabilities.warm_transfer:
            return "carrier"  # its capability record says so
        if legs is None:
            return "no_rest_credentials"  # e.g. KURA_TWILIO_ACCOUNT_SID unset: nothing can dial
        if not legs.bridges(call):
            return "call_cannot_bridge"  # e.g. a Telnyx Call Control call: no markup follows
        return None

    def _row(self, mode: str, destination: Destination, state: str) -> CallTransfer:
        return CallTransfer(
            id=secrets.token_hex(16), call_sid=self._call_sid, session_id=self._session.id,
            mode=mode, destination_name=destination.name,
            destination_number=destination.number, state=state,
            started_at=self._ctx.clock.now(),
        )  # fmt: skip

    async def _cold(self, destination: Destination) -> dict[str, Any]:
        if not self._telephony.puts_through(self._capabilities.name):
            # Saying "ok" here would drop the caller: nothing would dial the number after us.
            log.warning(
                "transfer not possible here; refused",
                extra={"carrier": self._capabilities.name, "session_id": self._session.id},
            )
            return {"error": NO_TRANSFER}
        if not await self._telephony.calls.request_transfer(self._session.id):
            return {"error": "transfer is not possible on this call"}
        await self._ctx.store.transfers.add(self._row("cold", destination, "dialed"))
        await self._bridge.end_after_response("transferred")
        return {"ok": True, "mode": "cold", "note": COLD_NOTE}

    async def _warm(
        self,
        legs: TransferLegs,
        assistant: Assistant,
        call: Call,
        destination: Destination,
        args: dict[str, Any],
    ) -> dict[str, Any]:
        telephony, settings = self._telephony, self._ctx.settings
        row = self._row("warm", destination, "dialing")
        summary = args.get("summary")
        if isinstance(summary, str) and summary.strip():
            row.summary = summary.strip()[:MAX_SUMMARY_CHARS]
        await self._ctx.store.transfers.add(row)
        warm = WarmTransfer(
            row, legs=legs, line=self._line, store=self._ctx.store, clock=self._ctx.clock,
            told=lambda done: self._told(assistant, done),
        )  # fmt: skip
        if self.warm is not None:  # an earlier one, over: its webhooks now find nothing
            telephony.transfers.remove(self.warm)
        self.warm = warm
        telephony.transfers.add(warm)
        leg = LegPlan(
            to=destination.number,
            from_=(call.from_number if call.direction == "outbound" else call.to_number) or "",
            answer_url=legs.hook_url(row.id, "answer"),
            status_url=legs.hook_url(row.id, "status"),
            ring_timeout_s=assistant.transfer_ring_timeout_s or settings.transfer_ring_timeout_s,
            whisper_timeout_s=settings.transfer_whisper_timeout_s,
        )
        if not await warm.start(leg):
            return {"error": "your colleague could not be dialled; the caller is still with you"}
        return {"ok": True, "mode": "warm", "status": "dialling", "note": WARM_NOTE}

    async def _told(self, assistant: Assistant, row: CallTransfer) -> None:
        await self._ctx.events.call_transferred(
            self._session.id, assistant, destination=row.destination_number, mode=row.mode,
            outcome=row.state, destination_name=row.destination_name,
            started_at=row.started_at, answered_at=row.answered_at, ended_at=row.ended_at,
        )  # fmt: skip

    async def aclose(self) -> None:
        """The call's stream is over: a transfer still ringing or whispering is cancelled."""
        warm, self.warm = self.warm, None
        if warm is not None:
            await warm.aclose()
            self._telephony.transfers.remove(warm)
        await self._line.aclose()
