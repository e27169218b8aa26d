"""What every carrier's warm transfer must show at the same points, checked one way: the TwiML
dialects (SignalWire, Telnyx's TeXML) differ in how a leg is placed, not in what follows."""

from __future__ import annotations

import asyncio

from tests.fakes.twilio_rest import PlacedCall
from tests.gateway.telephony.test_warm_transfer import Transfer


async def caller_joins_the_human(call: Transfer, leg: PlacedCall) -> None:
    """After the human's "1": the assistant leaves and the caller joins them in the room."""
    (room,) = call.carrier.conferences
    await call.stream.wait_closed()  # the assistant leaves
    await asyncio.wait_for(call.session.closed.wait(), 5)
    assert call.carrier.join(call.stream.call_sid, await call.action()) == room
    assert call.carrier.conferences[room] == [leg.sid, call.stream.call_sid]
    row = await call.settled("accepted")
    assert row.answered_at is not None and row.leg_sid == leg.sid
    assert await call.outcomes_told() == ["accepted"]
    assert not leg.updates  # nobody hung the human up


async def unanswered_carries_on(call: Transfer, leg: PlacedCall) -> None:
    """The leg rings out: the assistant is told and the caller stays on with it."""
    await call.carrier.status(leg, "ringing")
    await call.carrier.status(leg, "no-answer")
    assert "did not answer" in await call.session.next_text()
    assert (await call.settled("no_answer")).answered_at is None
    assert await call.outcomes_told() == ["no_answer"]
    assert not call.stream.closed.is_set()
