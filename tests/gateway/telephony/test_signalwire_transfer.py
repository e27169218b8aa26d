"""Warm transfers on SignalWire, end to end: the caller's L16 stream, the fake LaML REST API that
rings the human's leg (UUID call ids, callbacks signed with the Signing Key in
``X-SignalWire-Signature``), the whisper's ``<Gather>``, and the ``<Dial><Conference>`` both join.

Accepted, declined, unanswered and the caller hanging up while the human's phone rings: the same
flow as Twilio's (``test_warm_transfer``), through SignalWire's own doors and credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pydantic import SecretStr

from providers.events import ResponseDone
from tests.fakes.twilio_rest import PlacedCall
from tests.gateway.telephony.conftest import twiml_of
from tests.gateway.telephony.outbound_fixtures import Outbound
from tests.gateway.telephony.test_signalwire import NUMBER, FakeSignalWire, dial
from tests.gateway.telephony.test_signalwire_outbound import API_TOKEN, PROJECT_ID, _gateway
from tests.gateway.telephony.test_warm_transfer import AGENT_PCM_100MS, DESTINATIONS, SALES
from tests.gateway.telephony.test_warm_transfer import Transfer as TwilioTransfer
from tests.gateway.telephony.warm_transfer_checks import (
    back_with_the_assistant,
    caller_joins_the_human,
    unanswered_carries_on,
)

SILENCE_200MS = b"\x00\x00" * 4800  # PCM16 at 24 kHz, the stream's own format


class Transfer(TwilioTransfer):
    """A SignalWire call ready to transfer: its ``<Connect action>`` is SignalWire's door."""

    async def action(self) -> ElementTree.Element:
        door = FakeSignalWire(self.line.gateway)
        fields = door.call_fields(self.stream.call_sid, CallStatus="in-progress")
        return await twiml_of(await door.action(fields))


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Outbound]:
    async for outbound in _gateway(tmp_path, signalwire_api_token=SecretStr(API_TOKEN)):
        yield outbound


@pytest.fixture
async def call(line: Outbound) -> AsyncIterator[Transfer]:
    gw = line.gateway
    number = await gw.ctx.store.numbers.get_by_number(NUMBER)
    assert number is not None
    changes = {"transfer_destinations": DESTINATIONS, "events_url": "https://crm.example.com/e"}
    await gw.ctx.store.assistants.update(number.assistant_id, changes, gw.clock.now())
    stream = await dial(FakeSignalWire(gw))
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    yield Transfer(line, stream, gw.scripted.sessions[-1])
    await stream.aclose()


async def _leg(call: Transfer) -> PlacedCall:
    leg = await call.ask_warm()
    # Rung through the LaML API of the project, from the SignalWire number, its webhooks under
    # SignalWire's prefix (signed with its key: the fake signs them so).
    assert leg.account == PROJECT_ID
    assert (leg.form["To"], leg.form["From"]) == (SALES, NUMBER)
    for url in (leg.form["Url"], leg.form["StatusCallback"]):
        assert "/telephony/signalwire/transfer/" in url and SALES[1:] not in url
    return leg


async def test_accepted_the_caller_joins_the_human_in_the_conference(call: Transfer) -> None:
    leg = await _leg(call)
    assert await call.carrier.status(leg, "ringing") == 200
    whisper = await call.carrier.answer(leg)
    assert "Ana wants a quote." in "".join(whisper.itertext())
    joined = await call.carrier.press(leg, whisper, "1")
    assert [child.tag for child in joined] == ["Say", "Dial"]
    await caller_joins_the_human(call, leg)


async def test_declined_the_caller_is_back_with_the_assistant(call: Transfer) -> None:
    leg = await _leg(call)
    call.session.emit(ResponseDone("connecting"))  # the assistant's line is over: the chime
    await call.stream.wait_for_audio(24000)  # half a second of hold audio, L16 at 24 kHz
    goodbye = await call.carrier.press(leg, await call.carrier.answer(leg), "2")
    assert [child.tag for child in goodbye] == ["Say", "Hangup"]
    # The stream's format is the provider's own L16: the agent's 100 ms arrive as sent.
    await back_with_the_assistant(
        call, len(AGENT_PCM_100MS), lambda: call.stream.send_audio(SILENCE_200MS)
    )


async def test_unanswered_the_assistant_is_told_and_carries_on(call: Transfer) -> None:
    await unanswered_carries_on(call, await _leg(call))


async def test_the_caller_hanging_up_cancels_the_ringing_leg(call: Transfer) -> None:
    leg = await _leg(call)
    await call.carrier.status(leg, "ringing")
    await call.stream.stop()
    await asyncio.wait_for(leg.updated.wait(), 5)
    assert leg.updates[-1]["Status"] == "canceled"
    assert (await call.settled("caller_gone")).ended_at is not None
    late = await call.carrier.answer(leg)  # picked up too late: a goodbye
    assert late.find("Hangup") is not None


async def test_a_caller_alone_in_the_room_is_hung_up(call: Transfer) -> None:
    caller = PlacedCall(call.stream.call_sid, {}, 0.0, status="in-progress")
    call.carrier.by_sid[caller.sid] = caller
    leg = await _leg(call)
    await call.carrier.press(leg, await call.carrier.answer(leg), "1")
    await call.stream.wait_closed()
    call.carrier.join(caller.sid, await call.action())
    assert await call.carrier.status(leg, "completed") == 200  # the human left as they came
    await asyncio.wait_for(caller.updated.wait(), 5)
    # SignalWire's update documents no inline cXML: the caller is let go, not left in silence.
    (update,) = caller.updates
    assert update["Status"] == "completed" and "Twiml" not in update
