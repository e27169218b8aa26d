"""Warm transfers on Twilio, end to end: a caller's media stream, the fake Twilio REST API that
rings the human's leg (its signed webhooks: answer, key press, status), and the conference.

Accepted, declined, unanswered, busy, the caller hanging up while the human's phone rings, and
a whisper nobody answers; plus the cold fallback and the refused destination.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from gateway.store.models import CallTransfer, OutboxEvent
from gateway.telephony.transfer import LiveTransfers
from kinds.clock import SystemClock
from providers.events import AgentAudio, ResponseDone, ToolCall
from tests.fakes.scripted_provider import ScriptedSession
from tests.fakes.twilio_media import FakeMediaStream
from tests.fakes.twilio_rest import PlacedCall
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    FakeTwilio,
    new_call_sid,
    stream_parameters,
    twiml_of,
)
from tests.gateway.telephony.outbound_fixtures import Outbound, outbound_gateway, until

LINE = "+15550007777"
SALES = "+15550004444"
DESTINATIONS = [
    {"name": "Sales", "number": SALES, "description": "quotes and orders"},
    {"name": "Support", "number": "+15550005555", "description": "broken things"},
]
AGENT_PCM_100MS = b"\x10\x27" * 2400  # 100 ms of a loud constant at 24 kHz


class Transfer:
    """One call to LINE, on an assistant with named destinations, ready to transfer."""

    def __init__(self, line: Outbound, stream: FakeMediaStream, session: ScriptedSession) -> None:
        self.line = line
        self.carrier = line.carrier
        self.stream = stream
        self.session = session
        self.twilio = FakeTwilio(line.gateway)

    async def ask(self, **arguments: Any) -> dict[str, Any]:
        """The assistant calls ``transfer_call``; the tool's result."""
        self.session.emit(ToolCall("t1", "transfer_call", arguments))
        _call_id, result = await self.session.next_tool_result()
        return result

    async def ask_warm(self) -> PlacedCall:
        result = await self.ask(destination="Sales", mode="warm", summary="Ana wants a quote.")
        assert result["ok"] is True and result["mode"] == "warm", result
        return self.carrier.calls[-1]  # placed before the tool answered

    async def action(self) -> ElementTree.Element:
        """Twilio's ``<Connect action>`` request once the caller's stream has closed."""
        fields = self.twilio.call_fields(self.stream.call_sid, To=LINE, CallStatus="in-progress")
        return await twiml_of(await self.twilio.action(fields))

    async def rows(self) -> list[CallTransfer]:
        return await self.line.gateway.ctx.store.transfers.of_call(self.stream.call_sid)

    async def settled(self, state: str) -> CallTransfer:
        async def final() -> CallTransfer:
            while True:
                rows = await self.rows()
                if rows and rows[-1].state == state:
                    return rows[-1]
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(final(), 5)

    async def outcomes_told(self, count: int = 1) -> list[str]:
        """The ``call.transferred`` outcomes, once ``count`` are stored (they follow the
        caller's side of the outcome)."""

        async def told() -> list[str]:
            while True:
                events = await self.events()
                found = [e["data"]["outcome"] for e in events if e["type"] == "call.transferred"]
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(told(), 5)

    async def events(self) -> list[dict[str, Any]]:
        async with self.line.gateway.ctx.store.engine.connect() as db:
            rows = (await db.execute(select(OutboxEvent.type, OutboxEvent.body))).all()
        return [{"type": kind, **body} for kind, body in rows]


async def answer_with_transfers(gw: Gateway, number: str, carrier: str) -> None:
    """``number`` on ``carrier`` answered by the scripted assistant, allowed DESTINATIONS."""
    assistant_id = await gw.use_scripted_assistant(
        transfer_destinations=DESTINATIONS, events_url="https://crm.example.com/events"
    )
    await gw.ctx.store.numbers.create(
        {"number": number, "assistant_id": assistant_id, "carrier": carrier}, gw.clock.now()
    )


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Outbound]:
    async for outbound in outbound_gateway(tmp_path, SystemClock()):
        yield outbound


@pytest.fixture
async def call(line: Outbound) -> AsyncIterator[Transfer]:
    gw = line.gateway
    await answer_with_transfers(gw, LINE, "twilio")
    twilio = FakeTwilio(gw)
    call_sid = new_call_sid()
    document = await twiml_of(await twilio.voice(twilio.call_fields(call_sid, To=LINE)))
    stream_url = document.find("./Connect/Stream").attrib["url"]  # type: ignore[union-attr]
    stream = await FakeMediaStream.open(
        gw.http, gw.url, stream_url, auth_token=AUTH_TOKEN, call_sid=call_sid,
        parameters=stream_parameters(document),
    )  # fmt: skip
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    yield Transfer(line, stream, gw.scripted.sessions[-1])
    await stream.aclose()


async def test_accepted_the_human_hears_the_summary_and_the_caller_joins_them(
    call: Transfer,
) -> None:
    leg = await call.ask_warm()
    # The human's leg: our number calls theirs; its URLs name the transfer, never a number.
    assert leg.form["To"] == SALES and leg.form["From"] == LINE
    assert leg.form["Timeout"] == "25"
    for url in (leg.form["Url"], leg.form["StatusCallback"]):
        assert "/telephony/twilio/transfer/" in url and SALES[1:] not in url
    assert await call.carrier.status(leg, "ringing") == 200
    whisper = await call.carrier.answer(leg)
    said = "".join(whisper.itertext())
    assert "Ana wants a quote." in said and "Press 1" in said
    assert (await call.settled("whispering")).answered_at is not None

    joined = await call.carrier.press(leg, whisper, "1")
    assert [child.tag for child in joined] == ["Say", "Dial"]
    (room,) = call.carrier.conferences
    assert room.startswith("kura-transfer-") and call.carrier.conferences[room] == [leg.sid]

    # The assistant leaves: its session ends, the stream closes, the caller joins the room.
    await call.stream.wait_closed()
    await asyncio.wait_for(call.session.closed.wait(), 5)
    assert call.carrier.join(call.stream.call_sid, await call.action()) == room
    assert call.carrier.conferences[room] == [leg.sid, call.stream.call_sid]
    row = await call.settled("accepted")
    assert row.mode == "warm" and row.destination_name == "Sales" and row.ended_at is not None
    view = await call.line.gateway.request(
        "GET", f"/api/v1/sessions/{call.session.context.session_id}"
    )
    assert (await view.json())["end_reason"] == "transferred"
    assert await call.outcomes_told() == ["accepted"]
    events = await call.events()
    ended = next(e for e in events if e["type"] == "session.ended")
    assert ended["data"]["transfer"]["outcome"] == "accepted"
    assert ended["data"]["transfer"]["mode"] == "warm"
    assert not [u for u in leg.updates if "Status" in u]  # nobody hung the human up
    # The transfer is on the call as the API shows it.
    calls = await (await call.line.gateway.request("GET", "/api/v1/calls")).json()
    (mine,) = [c for c in calls["data"] if c["call_sid"] == call.stream.call_sid]
    assert mine["transfers"] is None  # the list leaves them out
    shown = await call.line.gateway.request("GET", f"/api/v1/calls/{mine['id']}")
    (transfer,) = (await shown.json())["transfers"]
    assert transfer["mode"] == "warm" and transfer["outcome"] == "accepted"
    assert transfer["destination_name"] == "Sales" and transfer["answered_at"] is not None


async def test_declined_the_caller_is_back_with_the_assistant_which_is_told(
    call: Transfer,
) -> None:
    leg = await call.ask_warm()
    call.session.emit(ResponseDone("connecting"))  # the assistant's line is over: the chime
    await call.stream.wait_for_audio(8000)  # a second of hold audio
    await call.carrier.status(leg, "ringing")
    whisper = await call.carrier.answer(leg)
    goodbye = await call.carrier.press(leg, whisper, "2")
    assert [child.tag for child in goodbye] == ["Say", "Hangup"]
    note = await call.session.next_text()
    assert "Sales declined the call" in note and SALES not in note
    await until(lambda: bool(call.stream.clears))  # the chime stops at once
    assert (await call.settled("declined")).ended_at is not None

    # The assistant carries on, heard again; the caller is heard by it again too.
    before = len(call.stream.received_audio)
    call.session.emit(AgentAudio(AGENT_PCM_100MS, "after"), ResponseDone("after"))
    await call.stream.wait_for_audio(before + 800)
    heard = len(call.session.audio_in)
    await call.stream.send_ulaw(b"\xff" * 1600)
    await until(lambda: len(call.session.audio_in) > heard)
    assert not call.stream.closed.is_set()
    await call.carrier.status(leg, "completed")  # the leg's last status changes nothing
    assert (await call.rows())[-1].state == "declined"


async def test_caller_audio_on_hold_never_reaches_the_assistant(call: Transfer) -> None:
    leg = await call.ask_warm()
    heard = len(call.session.audio_in)
    await call.stream.send_ulaw(b"\xff" * 1600)
    await call.stream.send_dtmf("5")
    await call.carrier.status(leg, "no-answer")
    assert "did not answer" in await call.session.next_text()
    # Off hold, a key reaches the assistant; the socket is ordered, so the held frames sent
    # before it have been read (and dropped) by the time it arrives.
    await call.stream.send_dtmf("7")
    assert await call.session.next_text() == "The caller pressed 7"
    assert len(call.session.audio_in) == heard


@pytest.mark.parametrize(
    ("status", "outcome", "told"),
    [("no-answer", "no_answer", "did not answer"), ("busy", "busy", "was busy")],
)
async def test_unanswered_or_busy_the_assistant_carries_on(
    call: Transfer, status: str, outcome: str, told: str
) -> None:
    leg = await call.ask_warm()
    await call.carrier.status(leg, "ringing")
    await call.carrier.status(leg, status)
    assert told in await call.session.next_text()
    row = await call.settled(outcome)
    assert row.answered_at is None
    assert await call.outcomes_told() == [outcome]
    # A second try is allowed once the first is over.
    result = await call.ask(destination="Support", mode="warm")
    assert result["ok"] is True
    second = call.carrier.calls[-1]
    assert len(call.carrier.calls) == 2 and second.form["To"] == "+15550005555"


async def test_a_whisper_nobody_answers_declines(call: Transfer) -> None:
    leg = await call.ask_warm()
    whisper = await call.carrier.answer(leg)
    assert whisper.find("Gather").attrib["timeout"] == "10"  # type: ignore[union-attr]
    goodbye = await call.carrier.press(leg, whisper, "")
    assert goodbye.find("Hangup") is not None
    assert "declined" in await call.session.next_text()


async def test_the_caller_hanging_up_cancels_the_ringing_leg(call: Transfer) -> None:
    leg = await call.ask_warm()
    await call.carrier.status(leg, "ringing")
    await call.stream.stop()
    await asyncio.wait_for(leg.updated.wait(), 5)
    assert leg.updates[-1]["Status"] == "canceled"
    assert (await call.settled("caller_gone")).ended_at is not None
    # The human picks up too late: the transfer is over, they hear a goodbye.
    late = await call.carrier.answer(leg)
    assert late.find("Hangup") is not None


async def test_the_caller_hanging_up_during_the_whisper_hangs_up_the_human(
    call: Transfer,
) -> None:
    leg = await call.ask_warm()
    await call.carrier.answer(leg)
    await call.stream.stop()
    await asyncio.wait_for(leg.updated.wait(), 5)
    assert leg.updates[-1]["Status"] == "completed"  # answered: completed, not canceled
    await call.settled("caller_gone")


async def test_webhooks_from_another_call_or_unsigned_are_refused(call: Transfer) -> None:
    leg = await call.ask_warm()
    url = leg.form["Url"]
    path = url.split("gw.example.com", 1)[1]
    stranger = call.twilio.call_fields(new_call_sid(), CallStatus="in-progress")
    assert (await call.twilio.post(path, stranger)).status == 403
    assert (await call.twilio.post(path, stranger, signature=None)).status == 403
    assert (await call.rows())[-1].state == "dialing"


async def test_a_destination_not_on_the_list_is_refused(call: Transfer) -> None:
    result = await call.ask(destination="+19005550000", mode="warm")
    assert "unknown transfer destination" in result["error"]
    assert "Sales" in result["error"] and not call.carrier.calls


async def test_cold_to_a_named_destination_dials_it(call: Transfer) -> None:
    result = await call.ask(destination="support", mode="cold")
    assert result["ok"] is True and result["mode"] == "cold"
    call.session.emit(ResponseDone("bye"))
    await call.stream.wait_closed()
    dial = (await call.action()).find("Dial")
    assert dial is not None and "+15550005555" in "".join(dial.itertext())
    assert (await call.rows())[-1].state == "dialed"


async def test_a_leg_twilio_refuses_leaves_the_caller_with_the_assistant(
    call: Transfer,
) -> None:
    call.carrier.fail_next = 400
    result = await call.ask(destination="Sales", mode="warm")
    assert "could not be dialled" in result["error"]
    assert (await call.rows())[-1].state == "failed"
    before = len(call.stream.received_audio)
    call.session.emit(AgentAudio(AGENT_PCM_100MS, "sorry"), ResponseDone("sorry"))
    await call.stream.wait_for_audio(before + 800)  # not on hold: the assistant is heard


@pytest.fixture
def another_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leg's webhooks land on a node that does not hold the caller: none finds a live
    transfer, so each moves the stored one, and the caller's node sees it on its next look."""
    monkeypatch.setattr(LiveTransfers, "get", lambda self, transfer_id: None)


@pytest.mark.usefixtures("another_node")
async def test_declined_on_another_node_the_callers_node_brings_the_caller_back(
    call: Transfer,
) -> None:
    leg = await call.ask_warm()
    whisper = await call.carrier.answer(leg)
    assert "Ana wants a quote." in "".join(whisper.itertext())  # the summary is stored
    goodbye = await call.carrier.press(leg, whisper, "9")
    assert goodbye.find("Hangup") is not None
    assert "Sales declined the call" in await call.session.next_text()  # within WATCH_S
    assert await call.outcomes_told() == ["declined"]


@pytest.mark.usefixtures("another_node")
async def test_accepted_on_another_node_the_caller_still_joins_the_human(
    call: Transfer,
) -> None:
    leg = await call.ask_warm()
    await call.carrier.press(leg, await call.carrier.answer(leg), "1")
    (room,) = call.carrier.conferences
    await call.stream.wait_closed()  # the caller's node saw "accepted" and ended the session
    assert call.carrier.join(call.stream.call_sid, await call.action()) == room
    assert call.carrier.conferences[room] == [leg.sid, call.stream.call_sid]
