"""A warm transfer's bridge on Plivo when the human hangs up right after pressing 1, or the
caller as the bridge is made: nobody is left alone in a silent conference (the fake Plivo
Voice REST API, the caller's Plivo callbacks)."""

from __future__ import annotations

import asyncio

from gateway.telephony.transfer_twiml import DROPPED
from tests.fakes.plivo_rest import PlivoCall
from tests.gateway.telephony.test_plivo_warm_transfer import PlivoTransfer, call

__all__ = ["call"]  # the fixture, shared with the other Plivo warm transfer tests


async def _bridging(call: PlivoTransfer) -> PlivoCall:
    """The human pressed 1 and waits in the conference; the assistant has let go."""
    leg = await call.ask_warm()
    await call.press(leg, await call.carrier.answer(leg), "1")
    await call.stream.wait_closed()
    assert (await call.settled("bridging")).ended_at is None
    return leg


async def test_a_human_gone_before_the_redirect_leaves_an_apology(call: PlivoTransfer) -> None:
    leg = await _bridging(call)
    assert await call.carrier.status(leg, "completed") == 200
    answer = await call.action()
    assert [child.tag for child in answer] == ["Speak", "Hangup"]
    assert answer.findtext("Speak") == DROPPED
    assert await call.outcomes() == ["dropped"]


async def test_a_caller_alone_in_the_room_is_hung_up(call: PlivoTransfer) -> None:
    leg = await _bridging(call)
    assert (await call.action()).find("Conference") is not None
    assert await call.carrier.status(leg, "completed") == 200
    # Plivo takes no inline XML on a live call: the caller is let go, not left in silence.
    await asyncio.wait_for(call.call.hung_up.wait(), 5)
    assert call.call.deleted == [("Call", call.call.call_uuid)]
    assert await call.outcomes() == ["accepted"]


async def test_a_caller_who_hangs_up_as_the_bridge_is_made_frees_the_human(
    call: PlivoTransfer,
) -> None:
    leg = await _bridging(call)
    assert await call.carrier.status(call.call, "completed") == 200  # the caller's hangup_url
    await asyncio.wait_for(leg.hung_up.wait(), 5)
    assert leg.deleted == [("Call", leg.call_uuid)]
    assert await call.outcomes() == ["caller_gone"]
