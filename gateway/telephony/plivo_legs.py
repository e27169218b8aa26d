"""Warm-transfer legs on Plivo: the human is rung through the Voice REST API (``POST
…/Call/``) with our answer, ring and hangup URLs, and answered in Plivo XML (``<GetDigits>``
whisper, ``<Conference>``); the caller, whose stream is followed by a ``<Redirect>``, joins
the conference from there.

Plivo answers the dial with a ``request_uuid``; the leg's own ``CallUUID`` comes with its first
callback (which also names the ``RequestUUID``), and the transfer is re-bound to it then
(``transfer_webhooks``). A leg still ringing is cancelled by its request, an answered one hung
up by its ``CallUUID`` (``PlivoDialer.end``).
"""

from __future__ import annotations

from gateway.store.models import Call
from gateway.telephony.plivo_dialer import PlivoDialer, plivo_number
from gateway.telephony.plivo_signatures import PLIVO_PREFIX, PlivoSignatures
from gateway.telephony.transfer_legs import LegPlan, transfer_path


class PlivoLegs:
    """One Plivo account's warm-transfer legs, through its outbound dialer's REST client."""

    def __init__(self, dialer: PlivoDialer, signatures: PlivoSignatures) -> None:
        self._dialer = dialer
        self._signatures = signatures

    @property
    def carrier(self) -> str:
        return "plivo"

    def hook_url(self, transfer_id: str, hook: str) -> str:
        return self._signatures.http_url(transfer_path(PLIVO_PREFIX, transfer_id, hook))

    def bridges(self, call: Call) -> bool:
        return True  # inbound and outbound answers both end with the <Redirect> after the stream

    async def place(self, leg: LegPlan) -> str:
        return await self._dialer.create(
            {
                "from": plivo_number(leg.from_), "to": plivo_number(leg.to),
                "answer_url": leg.answer_url, "answer_method": "POST",
                "ring_url": leg.status_url, "ring_method": "POST",
                "hangup_url": leg.status_url, "hangup_method": "POST",
                "ring_timeout": leg.ring_timeout_s,
            }
        )  # fmt: skip

    async def hang_up(self, leg_sid: str, *, answered: bool) -> bool:
        return await self._dialer.end(leg_sid, ringing=not answered)

    async def see_out(self, call_sid: str, goodbye: str) -> bool:
        # Plivo's transfer of a live call takes only a URL to fetch XML from, none inline, and
        # ours would send this caller back to the room: the call is hung up, without words.
        return await self._dialer.end(call_sid, ringing=False)
