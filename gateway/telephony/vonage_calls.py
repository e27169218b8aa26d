"""What follows a Vonage call's stream: a REST hang-up, or a transfer when one was asked for
(a ``connect`` to the number; a warm transfer's ``conversation`` once the human accepted).

Twilio and Telnyx go on with their markup once our socket closes; a Vonage call is steered
through its Voice REST API instead (``vonage_rest``), before the socket closes: a transfer
replaces the call's NCCO (ending our websocket leg), a hang-up ends the call. When the caller
has already gone there is nothing to steer; the session is ended either way.
"""

from __future__ import annotations

import logging

from gateway.store import Store
from gateway.telephony.calls import CallService
from gateway.telephony.carriers.events import StreamStarted
from gateway.telephony.carriers.registry import AfterCall
from gateway.telephony.transfer_twiml import DROPPED
from gateway.telephony.vonage_legs import conversation
from gateway.telephony.vonage_rest import VonageVoiceApi

log = logging.getLogger(__name__)


def vonage_after_call(calls: CallService, store: Store, api: VonageVoiceApi | None) -> AfterCall:
    """The ``Carrier.after_call`` of Vonage calls."""

    async def after_call(started: StreamStarted, caller_gone: bool) -> None:
        call_uuid = started.call_id
        if caller_gone and calls.call_over_hook is not None:
            # Before ``after_stream`` would send them into the conference: a warm transfer
            # still bridging hangs up the human waiting there instead.
            await calls.call_over_hook(call_uuid, "vonage")
        outcome = await calls.after_stream(call_uuid)
        transfer_to = outcome.transfer_to
        if caller_gone:
            return
        # A warm transfer accepted: the caller joins the human's conversation; the human hung up
        # before that: an apology, and the call ends with the NCCO.
        joined = [conversation(outcome.conference)] if outcome.conference else None
        if outcome.kind == "dropped":
            joined = [{"action": "talk", "text": DROPPED}]
        if joined and api is not None and await api.replace_ncco(call_uuid, joined):
            return
        if api is None:
            if transfer_to:
                log.warning(
                    "vonage transfer impossible: no application key", extra={"call_sid": call_uuid}
                )
            return  # closing the socket ends the NCCO, and with it the call
        if transfer_to:
            call = await store.calls.get_by_sid(call_uuid)
            if await api.transfer(call_uuid, transfer_to, call.to_number if call else None):
                return
        await api.hang_up(call_uuid)

    return after_call
