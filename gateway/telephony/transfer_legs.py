"""The carrier seam of a warm transfer: ring the human's leg, hang it up, and name its webhooks.

``WarmTransfer`` and the event flow speak only ``TransferLegs``; each carrier that can hold a
caller while a second leg rings and then bridge the two provides one. Twilio and SignalWire
share ``CompatLegs``: SignalWire's LaML REST API and cXML are Twilio's (``calls.create`` with a
status callback, ``Status=canceled|completed`` on update, ``<Gather>`` and
``<Dial><Conference>``), under its own path prefix and signed with its own key.

A leg's webhooks are ``{prefix}/transfer/{transfer_id}/{answer|decision|status}``: the id is a
random token, so no URL carries a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.store.models import Call
from gateway.telephony import twiml
from gateway.telephony.signatures import TwilioSignatures
from gateway.telephony.twilio_rest import TwilioRest

TRANSFER_HOOK = "/transfer/{transfer_id}/{hook}"
"""Under a carrier's prefix (``/telephony/twilio``, ``/telephony/signalwire``)."""
LEG_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


def transfer_path(prefix: str, transfer_id: str, hook: str) -> str:
    """The path of one of a transfer's leg webhooks on the carrier under ``prefix``."""
    return prefix + TRANSFER_HOOK.replace("{transfer_id}", transfer_id).replace("{hook}", hook)


@dataclass(frozen=True, slots=True)
class LegPlan:
    """What placing the human's leg needs (numbers go only to the REST API)."""

    to: str
    from_: str
    answer_url: str
    status_url: str
    ring_timeout_s: int
    whisper_timeout_s: int


class TransferLegs(Protocol):
    """One carrier's side of warm transfers: REST work, never a codec's (DESIGN §4)."""

    @property
    def carrier(self) -> str: ...

    def hook_url(self, transfer_id: str, hook: str) -> str:
        """The public URL of a transfer's leg webhook (``answer``, ``decision``, ``status``)."""

    def bridges(self, call: Call) -> bool:
        """Whether this call's caller can join the human once our stream closes (its markup
        goes on to ask us what follows)."""

    async def place(self, leg: LegPlan) -> str:
        """Ring the human; the leg's call id. ``CarrierFailed`` if it could not be placed."""

    async def hang_up(self, leg_sid: str, *, answered: bool) -> bool:
        """End the leg (cancel it while it rings); ``False`` if the carrier refused."""

    async def see_out(self, call_sid: str, goodbye: str) -> bool:
        """Take the caller's call (``call_sid``, on this carrier too) out of the conference:
        ``goodbye`` said, then hung up; where the carrier cannot be given words to say on a
        live call, hung up at once (a caller alone in a silent room is better let go than
        left). ``False`` if the carrier refused."""


class CompatLegs:
    """Warm-transfer legs on Twilio, or on SignalWire through its Twilio-compatible API."""

    def __init__(
        self, carrier: str, rest: TwilioRest, signatures: TwilioSignatures, prefix: str
    ) -> None:
        self._carrier = carrier
        self._rest = rest
        self._signatures = signatures
        self._prefix = prefix

    @property
    def carrier(self) -> str:
        return self._carrier

    def hook_url(self, transfer_id: str, hook: str) -> str:
        return self._signatures.http_url(transfer_path(self._prefix, transfer_id, hook))

    def bridges(self, call: Call) -> bool:
        return True  # every call's <Connect action> asks what follows

    async def place(self, leg: LegPlan) -> str:
        params = {
            "to": leg.to, "from_": leg.from_, "url": leg.answer_url, "method": "POST",
            "status_callback": leg.status_url, "status_callback_method": "POST",
            "status_callback_event": LEG_STATUS_EVENTS, "timeout": leg.ring_timeout_s,
        }  # fmt: skip
        return await self._rest.create_call(params)

    async def hang_up(self, leg_sid: str, *, answered: bool) -> bool:
        # Both carriers cancel only a leg not yet answered, and complete an answered one.
        return await self._rest.update_call(leg_sid, status="completed" if answered else "canceled")

    async def see_out(self, call_sid: str, goodbye: str) -> bool:
        if self._carrier == "signalwire":
            # SignalWire's call update documents a new document's ``Url`` but no inline cXML:
            # an unknown field ignored would leave the caller in the silent room.
            return await self._rest.update_call(call_sid, status="completed")
        return await self._rest.update_call(call_sid, twiml=twiml.say_and_hang_up(goodbye))
