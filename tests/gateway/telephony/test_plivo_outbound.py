"""Outbound calls on Plivo: dialled through a fake of its Voice REST API (the SDK's request
shapes), driven by V3-signed callbacks, the call re-bound from its RequestUUID to its CallUUID,
streamed on answer as an inbound Plivo call is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from providers.events import AgentAudio, ResponseDone
from tests.fakes.plivo_media import FakePlivoStream
from tests.fakes.plivo_rest import FakePlivoRest, PlivoCall
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import PUBLIC_URL
from tests.gateway.telephony.outbound_fixtures import CALLEE
from tests.gateway.telephony.outbound_kit import OutboundLine, gateway_with, route_number
from tests.gateway.telephony.test_media_stream import AGENT_PCM_100MS

AUTH_ID = "MA000000000000000001"
TOKEN = "plivo_outbound_test_token"
NUMBER = "+445550004444"


class Line(OutboundLine):
    def __init__(self, gateway: Gateway, carrier: FakePlivoRest, assistant_id: int) -> None:
        super().__init__(gateway, NUMBER, assistant_id)
        self.carrier = carrier

    async def place(self, **body: Any) -> tuple[dict[str, Any], PlivoCall]:
        return await self.create(**body), self.carrier.calls[-1]

    async def open_stream(self, call: PlivoCall) -> FakePlivoStream:
        document = await self.carrier.answer(call)
        stream = document.find("./Stream")
        assert stream is not None and stream.text is not None, document
        return await FakePlivoStream.dial(
            self.gateway.http, self.gateway.url, stream.text, call_uuid=call.call_uuid,
            extra_headers=stream.attrib["extraHeaders"],
        )  # fmt: skip


async def _line(tmp_path: Path, **settings: Any) -> AsyncIterator[Line]:
    async with aiohttp.ClientSession() as http:
        carrier = FakePlivoRest(AUTH_ID, TOKEN, http)
        configured = {"plivo_auth_token": SecretStr(TOKEN), **settings}
        async for gw in gateway_with(
            carrier, tmp_path, lambda url: {"plivo_api_base_url": url, **configured}
        ):
            yield Line(gw, carrier, await route_number(gw, NUMBER, "plivo"))


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    async for made in _line(tmp_path, plivo_auth_id=AUTH_ID):
        yield made


async def test_a_call_is_dialled_answered_streamed_and_ends(line: Line) -> None:
    gw = line.gateway
    created, call = await line.place(machine_detection="detect")
    session_id = created["session_id"]
    body = call.body
    assert (body["from"], body["to"]) == (NUMBER[1:], CALLEE[1:])  # Plivo drops the "+"
    query = f"?session={session_id}"
    assert body["answer_url"] == f"{PUBLIC_URL}/telephony/plivo/outbound/answer{query}"
    assert (
        body["hangup_url"]
        == body["ring_url"]
        == f"{PUBLIC_URL}/telephony/plivo/outbound/status{query}"
    )
    assert (body["machine_detection"], body["ring_timeout"], body["time_limit"]) == (
        "true",
        30,
        3605,
    )
    assert created["call_sid"] == call.request_uuid  # until Plivo names the call itself
    assert await line.carrier.status(call, "ringing", "ring_url", Event="Ring") == 200
    view = await line.view(created["id"])
    assert (view["status"], view["call_sid"]) == ("ringing", call.call_uuid)
    stream = await line.open_stream(call)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    provider = gw.scripted.sessions[-1]
    await stream.send_ulaw(b"\xff" * 1600)
    assert len(await provider.audio_at_least(1600)) >= 1600
    provider.emit(AgentAudio(AGENT_PCM_100MS * 3, "hello"), ResponseDone("hello"))
    await stream.wait_for_audio(2400)
    assert (
        await line.carrier.status(call, "in-progress", "machine_detection_url", Machine="false")
        == 200
    )
    view = await line.view(created["id"])
    assert (view["status"], view["answered_by"]) == ("in-progress", "human")
    await stream.stop()
    await stream.wait_closed()
    assert await line.carrier.status(call, "completed", Duration="9", Event="Hangup") == 200
    view = await line.view(created["id"])
    assert (view["status"], view["duration_s"], view["end_reason"]) == ("completed", 9, "completed")
    session = await gw.ctx.store.sessions.get(session_id)
    assert session is not None and session.status == "ended"
    assert session.meta["carrier"] == "plivo"
    assert await line.slots() == 0
    assert call.deleted == []


@pytest.mark.parametrize(
    ("plivo_status", "status"),
    [("busy", "busy"), ("timeout", "no-answer"), ("no-answer", "no-answer"), ("failed", "failed")],
)
async def test_unanswered_calls_end_and_free_their_slot(
    line: Line, plivo_status: str, status: str
) -> None:
    created, call = await line.place()
    assert await line.carrier.status(call, plivo_status, Event="Hangup", Duration="0") == 200
    await line.assert_ended(created["id"], status)


async def test_a_machine_is_hung_up_on_by_call_uuid(line: Line) -> None:
    created, call = await line.place(machine_detection="detect")
    await line.open_stream(call)
    assert (
        await line.carrier.status(call, "in-progress", "machine_detection_url", Machine="true")
        == 200
    )
    await asyncio.wait_for(call.hung_up.wait(), 5)
    assert call.deleted == [("Call", call.call_uuid)]
    view = await line.view(created["id"])
    assert (view["answered_by"], view["end_reason"]) == ("machine", "voicemail")


async def test_a_call_hung_up_before_any_callback_is_cancelled_by_its_request(line: Line) -> None:
    created, call = await line.place()
    await line.hang_up(created["id"])
    await asyncio.wait_for(call.hung_up.wait(), 5)
    assert call.deleted == [("Request", call.request_uuid)]


async def test_leave_message_is_refused_with_422(line: Line) -> None:
    await line.assert_refused(
        422, "Plivo calls cannot use 'leave_message'",
        machine_detection="leave_message", voicemail_message="Hi",
    )  # fmt: skip
    assert line.carrier.calls == []


async def test_forged_callbacks_are_refused(line: Line) -> None:
    created, call = await line.place()
    forged = FakePlivoRest(AUTH_ID, "not-the-token", line.carrier.http)
    forged.gateway_url = line.carrier.gateway_url
    assert await forged.status(call, "completed") == 403
    other, _ = await line.place()
    aimed = {**call.body, "hangup_url": call.body["hangup_url"].replace(
        created["session_id"], other["session_id"])}  # fmt: skip
    wrong = PlivoCall(call.request_uuid, aimed, call.call_uuid)
    assert await line.carrier.status(wrong, "completed") == 403  # another call's session
    assert (await line.view(created["id"]))["status"] == "queued"


async def test_a_refused_dial_is_502_and_frees_the_slot(line: Line) -> None:
    line.carrier.fail_next = 400
    await line.assert_refused(502, "Plivo status 400")


async def test_without_an_auth_id_calls_get_503_naming_the_settings(tmp_path: Path) -> None:
    async for made in _line(tmp_path):
        await made.assert_refused(503, "KURA_PLIVO_AUTH_ID")
