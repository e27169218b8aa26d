"""A warm transfer's bridge on Telnyx when the human hangs up right after pressing 1, or the
caller as the bridge is made: nobody is left alone in a silent conference (the fake TeXML Calls
API, the caller's TeXML webhooks)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from gateway.telephony.transfer_flow import HUMAN_LEFT
from gateway.telephony.transfer_twiml import DROPPED
from tests.fakes.twilio_rest import PlacedCall
from tests.gateway.telephony.conftest import FakeTelnyx
from tests.gateway.telephony.test_telnyx_warm_transfer import LINE, Transfer, call, line

__all__ = ["call", "line"]  # the fixtures, shared with the other Telnyx warm transfer tests


async def _bridging(call: Transfer) -> PlacedCall:
    """The human pressed 1 and waits in the conference; the assistant has let go."""
    leg = await call.ask_warm()
    await call.carrier.press(leg, await call.carrier.answer(leg), "1")
    await call.stream.wait_closed()
    assert (await call.settled("bridging")).ended_at is None
    return leg


async def test_a_human_gone_before_the_redirect_leaves_an_apology(call: Transfer) -> None:
    leg = await _bridging(call)
    assert await call.carrier.status(leg, "completed") == 200
    answer = await call.action()
    assert [child.tag for child in answer] == ["Say", "Hangup"]
    assert answer.findtext("Say") == DROPPED
    assert await call.outcomes_told() == ["dropped"]


async def test_a_caller_alone_in_the_room_is_seen_out_with_a_goodbye(call: Transfer) -> None:
    caller = PlacedCall(call.stream.call_sid, {}, 0.0, status="in-progress")
    call.carrier.by_sid[caller.sid] = caller  # type: ignore[attr-defined]
    leg = await _bridging(call)
    call.carrier.join(caller.sid, await call.action())
    assert await call.carrier.status(leg, "completed") == 200
    await asyncio.wait_for(caller.updated.wait(), 5)
    (update,) = caller.updates
    assert HUMAN_LEFT in update["Texml"] and "<Hangup" in update["Texml"]  # TeXML's inline form
    assert await call.outcomes_told() == ["accepted"]


async def test_a_caller_who_hangs_up_as_the_bridge_is_made_frees_the_human(
    call: Transfer,
) -> None:
    leg = await _bridging(call)
    telnyx = FakeTelnyx(call.line.gateway)
    fields = telnyx.call_fields(call.stream.call_sid, To=LINE, CallStatus="completed")
    body = urlencode({**fields, "SequenceNumber": "9"}).encode()
    assert (await telnyx.post("/telephony/telnyx/status", body)).status == 200
    assert (await call.carrier.next_update(leg))["Status"] == "completed"  # type: ignore[attr-defined]
    assert await call.outcomes_told() == ["caller_gone"]
