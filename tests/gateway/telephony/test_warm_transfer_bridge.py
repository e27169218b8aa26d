"""A warm transfer's bridge when the human hangs up right after pressing 1: the caller is never
left alone in a silent conference (the fake Twilio REST API, the caller's media stream)."""

from __future__ import annotations

import asyncio

from gateway.telephony.transfer_flow import HUMAN_LEFT
from gateway.telephony.transfer_twiml import DROPPED
from tests.fakes.twilio_rest import PlacedCall
from tests.gateway.telephony.test_warm_transfer import Transfer, call, line

__all__ = ["call", "line"]  # the fixtures, shared with the other warm transfer tests


def _caller_at_carrier(call: Transfer) -> PlacedCall:
    """The caller's own call, as the fake REST API knows it, to be steered out of the room."""
    caller = PlacedCall(call.stream.call_sid, {}, 0.0, status="in-progress")
    call.carrier.by_sid[caller.sid] = caller
    return caller


async def _accepted(call: Transfer) -> PlacedCall:
    """The human's leg once they have pressed 1 and the assistant has let go of the caller."""
    leg = await call.ask_warm()
    await call.carrier.press(leg, await call.carrier.answer(leg), "1")
    await call.stream.wait_closed()
    return leg


async def test_a_human_gone_before_the_caller_got_there_leaves_an_apology_not_a_room(
    call: Transfer,
) -> None:
    leg = await call.ask_warm()
    await call.carrier.press(leg, await call.carrier.answer(leg), "1")
    await call.stream.wait_closed()  # the assistant has let go of the caller
    assert (await call.settled("bridging")).ended_at is None
    # They hang up at once: their conference ends before Twilio asks where the caller goes.
    assert await call.carrier.status(leg, "completed") == 200
    assert (await call.settled("dropped")).ended_at is not None
    answer = await call.action()
    assert [child.tag for child in answer] == ["Say", "Hangup"]
    assert answer.findtext("Say") == DROPPED
    assert len(call.carrier.conferences) == 1  # only the human ever joined one
    assert await call.outcomes_told() == ["dropped"]


async def test_a_caller_who_reaches_the_room_after_the_human_left_is_seen_out(
    call: Transfer,
) -> None:
    caller = _caller_at_carrier(call)
    leg = await _accepted(call)
    (room,) = call.carrier.conferences
    assert call.carrier.join(caller.sid, await call.action()) == room
    assert await call.outcomes_told() == ["accepted"]
    # The human hangs up as the caller arrives: the room the caller starts is theirs alone.
    assert await call.carrier.status(leg, "completed") == 200
    await asyncio.wait_for(caller.updated.wait(), 5)
    (update,) = caller.updates
    assert HUMAN_LEFT in update["Twiml"] and "<Hangup" in update["Twiml"]
    assert (await call.rows())[-1].state == "accepted"  # the outcome stands: they were bridged
    assert await call.outcomes_told() == ["accepted"]  # told once


async def test_after_a_real_conversation_the_callers_ended_call_is_left_alone(
    call: Transfer,
) -> None:
    caller = _caller_at_carrier(call)
    leg = await _accepted(call)
    call.carrier.join(caller.sid, await call.action())
    # They talked; the human hangs up, which ends the conference and the caller's call with it.
    fields = call.twilio.call_fields(caller.sid, CallStatus="completed", SequenceNumber="9")
    assert (await call.twilio.status(fields)).status == 200
    assert await call.carrier.status(leg, "completed") == 200
    assert not caller.updates


async def test_a_caller_who_hangs_up_as_the_bridge_is_made_does_not_leave_the_human_waiting(
    call: Transfer,
) -> None:
    leg = await _accepted(call)
    # The caller hangs up there: Twilio never asks where they go, it reports the call over.
    fields = call.twilio.call_fields(call.stream.call_sid, CallStatus="completed")
    assert (await call.twilio.status({**fields, "SequenceNumber": "9"})).status == 200
    await asyncio.wait_for(leg.updated.wait(), 5)
    assert leg.updates[-1]["Status"] == "completed"  # the human, waiting in the room, hung up
    assert (await call.settled("caller_gone")).ended_at is not None
    assert await call.outcomes_told() == ["caller_gone"]
