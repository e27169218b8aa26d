"""Warm transfers on Plivo, end to end: a call's stream, the fake Plivo Voice REST API that rings
the human (a ``request_uuid`` first, the leg's ``CallUUID`` with its callbacks, V3-signed), the
``<GetDigits>`` whisper and the ``<Redirect>`` that declines when no key is pressed, and the
``<Conference>`` the human and then the caller (through the ``<Redirect>`` after the stream) join.

Accepted, declined, unanswered and the caller hanging up while the human's phone rings.
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
from providers.events import AgentAudio, ResponseDone, ToolCall
from tests.fakes.plivo_media import FakePlivoStream
from tests.fakes.plivo_rest import PlivoCall
from tests.fakes.scripted_provider import ScriptedSession
from tests.gateway.telephony.conftest import PUBLIC_URL
from tests.gateway.telephony.outbound_fixtures import until
from tests.gateway.telephony.test_plivo_outbound import AUTH_ID, NUMBER, Line, _line
from tests.gateway.telephony.test_warm_transfer import AGENT_PCM_100MS, DESTINATIONS, SALES


class PlivoTransfer:
    """A Plivo call (placed by the assistant's number) ready to transfer."""

    def __init__(self, line: Line, call: PlivoCall, stream: FakePlivoStream) -> None:
        self.line, self.call, self.stream = line, call, stream
        self.carrier = line.carrier
        self.session: ScriptedSession = line.gateway.scripted.sessions[-1]

    async def ask_warm(self) -> PlivoCall:
        arguments = {"destination": "Sales", "mode": "warm", "summary": "Ana wants a quote."}
        self.session.emit(ToolCall("t1", "transfer_call", arguments))
        _call_id, result = await self.session.next_tool_result()
        assert result["ok"] is True and result["mode"] == "warm", result
        leg = self.carrier.calls[-1]
        body: dict[str, Any] = leg.body
        assert (body["to"], body["from"]) == (SALES[1:], NUMBER[1:])  # Plivo's, without "+"
        for url in (body["answer_url"], body["ring_url"], body["hangup_url"]):
            assert url.startswith(PUBLIC_URL + "/telephony/plivo/transfer/")
        return leg

    async def press(self, leg: PlivoCall, whisper: ElementTree.Element, digits: str) -> Any:
        """Keys pressed in the ``<GetDigits>`` (``""``: none, so its ``<Redirect>`` follows)."""
        fields = self.carrier.fields(leg, CallStatus="in-progress")
        gather, after = whisper.find("GetDigits"), whisper.find("Redirect")
        assert gather is not None and after is not None and after.text is not None
        if digits:
            fields["Digits"] = digits
        url = gather.attrib["action"] if digits else after.text
        response = await self.carrier.post(url, fields)
        assert response.status == 200, await response.text()
        return ElementTree.fromstring(await response.text())  # noqa: S314 - the gateway's

    async def action(self) -> ElementTree.Element:
        """Plivo following the ``<Redirect>`` once the caller's stream has stopped."""
        fields = self.carrier.fields(self.call, CallStatus="in-progress")
        response = await self.carrier.post(PUBLIC_URL + "/telephony/plivo/action", fields)
        assert response.status == 200, await response.text()
        return ElementTree.fromstring(await response.text())  # noqa: S314 - the gateway's

    async def settled(self, state: str) -> CallTransfer:
        store = self.line.gateway.ctx.store

        async def final() -> CallTransfer:
            while True:
                rows = await store.transfers.of_call(self.call.call_uuid)
                if rows and rows[-1].state == state:
                    return rows[-1]
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(final(), 5)

    async def outcomes(self, count: int = 1) -> list[str]:
        """The ``call.transferred`` outcomes, once ``count`` are stored."""

        async def told() -> list[str]:
            while True:
                found = await self._outcomes()
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(told(), 5)

    async def _outcomes(self) -> list[str]:
        async with self.line.gateway.ctx.store.engine.connect() as db:
            rows = (await db.execute(select(OutboxEvent.type, OutboxEvent.body))).all()
        return [body["data"]["outcome"] for kind, body in rows if kind == "call.transferred"]


@pytest.fixture
async def call(tmp_path: Path) -> AsyncIterator[PlivoTransfer]:
    async for line in _line(tmp_path, plivo_auth_id=AUTH_ID):
        gw = line.gateway
        changes = {"transfer_destinations": DESTINATIONS, "events_url": "https://crm.example/e"}
        await gw.ctx.store.assistants.update(line.assistant_id, changes, gw.clock.now())
        _created, placed = await line.place()
        stream = await line.open_stream(placed)
        await asyncio.wait_for(gw.scripted.connected.wait(), 5)
        yield PlivoTransfer(line, placed, stream)
        await stream.aclose()


async def test_accepted_the_caller_joins_the_human_in_the_conference(call: PlivoTransfer) -> None:
    leg = await call.ask_warm()
    assert await call.carrier.status(leg, "ringing", url_field="ring_url") == 200
    whisper = await call.carrier.answer(leg)
    assert "Ana wants a quote." in "".join(whisper.itertext())
    joined = await call.press(leg, whisper, "1")
    assert [child.tag for child in joined] == ["Speak", "Conference"]
    room = joined.find("Conference").text  # type: ignore[union-attr]
    await call.stream.wait_closed()  # the assistant leaves
    await asyncio.wait_for(call.session.closed.wait(), 5)
    conference = (await call.action()).find("Conference")
    assert conference is not None and conference.text == room
    row = await call.settled("accepted")
    assert row.leg_sid == leg.call_uuid  # re-bound from the request to the call's own id
    assert row.answered_at is not None
    assert not leg.deleted  # nobody hung the human up
    assert await call.outcomes() == ["accepted"]


async def test_declined_by_no_key_the_caller_is_back_with_the_assistant(
    call: PlivoTransfer,
) -> None:
    leg = await call.ask_warm()
    call.session.emit(ResponseDone("connecting"))  # the assistant's line is over: the chime
    await call.stream.wait_for_audio(4000)  # half a second of hold audio, µ-law
    goodbye = await call.press(leg, await call.carrier.answer(leg), "")
    assert [child.tag for child in goodbye] == ["Speak", "Hangup"]
    assert "Sales declined the call" in await call.session.next_text()
    await call.settled("declined")
    await until(lambda: bool(call.stream.clears))  # the chime stops at once
    before = len(call.stream.received_audio)
    call.session.emit(AgentAudio(AGENT_PCM_100MS, "after"), ResponseDone("after"))
    await call.stream.wait_for_audio(before + 800)  # heard again: 100 ms of µ-law


async def test_unanswered_the_assistant_is_told_and_carries_on(call: PlivoTransfer) -> None:
    leg = await call.ask_warm()
    await call.carrier.status(leg, "ringing", url_field="ring_url")
    await call.carrier.status(leg, "timeout")  # Plivo's word for no answer
    assert "did not answer" in await call.session.next_text()
    assert (await call.settled("no_answer")).answered_at is None
    assert await call.outcomes() == ["no_answer"]
    assert not call.stream.closed.is_set()


async def test_the_caller_hanging_up_cancels_the_ringing_leg(call: PlivoTransfer) -> None:
    leg = await call.ask_warm()
    await call.stream.stop()  # before any callback: the leg is known by its request
    await asyncio.wait_for(leg.hung_up.wait(), 5)
    assert leg.deleted == [("Request", leg.request_uuid)]
    assert (await call.settled("caller_gone")).ended_at is not None
