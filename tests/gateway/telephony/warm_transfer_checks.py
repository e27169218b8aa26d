"""What every carrier's warm transfer must show at the same points, checked one way: the TwiML
dialects (SignalWire, Telnyx's TeXML) differ in how a leg is placed, not in what follows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from providers.events import AgentAudio, ResponseDone
from tests.fakes.twilio_rest import PlacedCall
from tests.gateway.telephony.outbound_fixtures import until
from tests.gateway.telephony.test_warm_transfer import AGENT_PCM_100MS, Transfer


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


async def back_with_the_assistant(
    call: Transfer, agent_bytes: int, speak: Callable[[], Awaitable[None]]
) -> None:
    """After the human declines: the hold chime stops, the assistant is told, and the caller
    hears it (``agent_bytes`` of its 100 ms line, in the stream's format) and is heard (after
    ``speak``) again."""
    assert "Sales declined the call" in await call.session.next_text()
    await until(lambda: bool(call.stream.clears))  # the chime stops at once
    await call.settled("declined")
    before = len(call.stream.received_audio)
    call.session.emit(AgentAudio(AGENT_PCM_100MS, "after"), ResponseDone("after"))
    await call.stream.wait_for_audio(before + agent_bytes)  # heard again
    heard = len(call.session.audio_in)
    await speak()
    await until(lambda: len(call.session.audio_in) > heard)  # and hears the caller again
    assert await call.outcomes_told() == ["declined"]
