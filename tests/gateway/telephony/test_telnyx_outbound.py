"""Outbound calls on Telnyx Call Control: dialled through a fake of its v2 REST API, driven by
its Ed25519-signed JSON events, streamed on answer with the token in the stream's parameters."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr

from providers.events import AgentAudio, ResponseDone
from tests.fakes.telnyx_media import FakeTelnyxStream
from tests.fakes.telnyx_rest import DialedCall, FakeTelnyxRest
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import PUBLIC_URL, TELNYX_KEY, TELNYX_PUBLIC_KEY
from tests.gateway.telephony.outbound_fixtures import CALLEE, until
from tests.gateway.telephony.outbound_kit import OutboundLine, gateway_with, route_number
from tests.gateway.telephony.test_media_stream import AGENT_PCM_100MS

NUMBER = "+445550003333"
CONNECTION_ID = "1494404757140276705"


class Line(OutboundLine):
    def __init__(self, gateway: Gateway, carrier: FakeTelnyxRest, assistant_id: int) -> None:
        super().__init__(gateway, NUMBER, assistant_id)
        self.carrier = carrier

    async def place(self, **body: Any) -> tuple[dict[str, Any], DialedCall]:
        return await self.create(**body), self.carrier.calls[-1]

    async def open_stream(self, call: DialedCall) -> FakeTelnyxStream:
        started = await self.carrier.answer(call)
        parameters = {p["name"]: p["value"] for p in started["custom_parameters"]}
        return await FakeTelnyxStream.dial(
            self.gateway.http, self.gateway.url, started["stream_url"],
            call_sid=call.call_control_id, parameters=parameters,
        )  # fmt: skip


async def _line(tmp_path: Path, **settings: Any) -> AsyncIterator[Line]:
    async with aiohttp.ClientSession() as http:
        carrier = FakeTelnyxRest(TELNYX_KEY, http)
        configured = {"telnyx_public_key": TELNYX_PUBLIC_KEY,
                      "telnyx_api_key": SecretStr("KEY_test_telnyx"), **settings}  # fmt: skip
        async for gw in gateway_with(
            carrier, tmp_path, lambda url: {"telnyx_api_base_url": url, **configured}
        ):
            yield Line(gw, carrier, await route_number(gw, NUMBER, "telnyx"))


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    async for made in _line(tmp_path, telnyx_connection_id=CONNECTION_ID):
        yield made


async def test_a_call_is_dialled_answered_streamed_and_ends(line: Line) -> None:
    gw = line.gateway
    created, call = await line.place(machine_detection="detect")
    session_id = created["session_id"]
    body = call.body
    assert (body["connection_id"], body["to"], body["from"]) == (CONNECTION_ID, CALLEE, NUMBER)
    assert body["webhook_url"] == PUBLIC_URL + "/telephony/telnyx/outbound/events"
    assert base64.b64decode(body["client_state"]).decode() == session_id
    assert body["answering_machine_detection"] == "detect"
    assert (body["timeout_secs"], body["time_limit_secs"]) == (30, 3600 + 5)
    assert (created["carrier"], created["call_sid"]) == ("telnyx", call.call_control_id)
    assert await line.carrier.event(call, "call.initiated", state="bridging") == 200
    stream = await line.open_stream(call)
    (started,) = call.action_bodies("streaming_start")
    assert started["stream_url"] == "wss://gw.example.com/telephony/telnyx/media"
    assert started["stream_bidirectional_mode"] == "rtp"
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    provider = gw.scripted.sessions[-1]
    await stream.send_ulaw(b"\xff" * 1600)
    assert len(await provider.audio_at_least(1600)) >= 1600
    provider.emit(AgentAudio(AGENT_PCM_100MS * 3, "hello"), ResponseDone("hello"))
    await stream.wait_for_audio(2400)  # 300 ms of µ-law
    verdict = await line.carrier.event(call, "call.machine.detection.ended", result="human")
    assert verdict == 200
    view = await line.view(created["id"])
    assert (view["status"], view["answered_by"]) == ("in-progress", "human")
    await stream.stop()
    await stream.wait_closed()
    hangup = await line.carrier.event(
        call, "call.hangup", hangup_cause="normal_clearing", hangup_source="callee",
        start_time="2026-12-03T10:00:00.000Z", end_time="2026-12-03T10:00:07.000Z",
    )  # fmt: skip
    assert hangup == 200
    view = await line.view(created["id"])
    assert (view["status"], view["duration_s"], view["end_reason"]) == ("completed", 7, "completed")
    session = await gw.ctx.store.sessions.get(session_id)
    assert session is not None and session.status == "ended"
    assert session.meta["carrier"] == "telnyx"
    assert await line.slots() == 0
    assert call.action_bodies("hangup") == []  # the callee hung up: nothing to end


@pytest.mark.parametrize(
    ("cause", "status"),
    [("user_busy", "busy"), ("timeout", "no-answer"), ("unallocated_number", "failed")],
)
async def test_unanswered_calls_end_and_free_their_slot(
    line: Line, cause: str, status: str
) -> None:
    created, call = await line.place()
    await line.carrier.event(call, "call.initiated", state="bridging")
    assert await line.carrier.event(call, "call.hangup", hangup_cause=cause) == 200
    await line.assert_ended(created["id"], status)


async def test_a_machine_is_hung_up_on(line: Line) -> None:
    created, call = await line.place(machine_detection="detect")
    await line.open_stream(call)
    assert await line.carrier.event(call, "call.machine.detection.ended", result="machine") == 200
    await until(lambda: call.action_bodies("hangup"))
    view = await line.view(created["id"])
    assert (view["answered_by"], view["end_reason"]) == ("machine", "voicemail")


async def test_leave_message_is_refused_with_422_before_dialling(line: Line) -> None:
    error = await line.assert_refused(
        422, "Telnyx calls cannot use 'leave_message'",
        machine_detection="leave_message", voicemail_message="Hi",
    )  # fmt: skip
    assert error["details"][0]["field"] == "machine_detection"
    assert line.carrier.calls == []


async def test_hanging_up_through_the_api_sends_the_hangup_command(line: Line) -> None:
    created, call = await line.place()
    await line.carrier.event(call, "call.initiated", state="bridging")
    assert (await line.hang_up(created["id"]))["end_reason"] == "api_hangup"
    await until(lambda: call.action_bodies("hangup"))


async def test_a_session_ended_on_our_side_hangs_the_call_up(line: Line) -> None:
    created, call = await line.place()
    await line.open_stream(call)
    await asyncio.wait_for(line.gateway.scripted.connected.wait(), 5)
    response = await line.gateway.request("DELETE", f"/api/v1/sessions/{created['session_id']}")
    assert response.status in (200, 204), await response.text()
    await until(lambda: call.action_bodies("hangup"))


async def test_forged_and_foreign_events_are_refused(line: Line) -> None:
    created, call = await line.place()
    forged = line.carrier.event_body(call, "call.hangup", hangup_cause="normal_clearing")
    assert await line.carrier.post(call, forged, key=SigningKey.generate()) == 403
    other, _ = await line.place()
    aimed = line.carrier.event_body(
        call, "call.hangup", hangup_cause="normal_clearing",
        client_state=base64.b64encode(other["session_id"].encode()).decode(),
    )  # fmt: skip
    assert await line.carrier.post(call, aimed) == 403  # another call's session
    nameless = line.carrier.event_body(call, "call.hangup", client_state=None)
    assert await line.carrier.post(call, nameless) == 403
    assert (await line.view(created["id"]))["status"] == "queued"
    assert await line.carrier.event(call, "streaming.started") == 200  # not acted on


async def test_a_refused_dial_is_502_and_frees_the_slot(line: Line) -> None:
    line.carrier.fail_next = 422
    await line.assert_refused(502, "Telnyx error 10015")


async def test_without_a_connection_id_calls_get_503_naming_the_settings(tmp_path: Path) -> None:
    async for made in _line(tmp_path):
        await made.assert_refused(503, "KURA_TELNYX_CONNECTION_ID")
