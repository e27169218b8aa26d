"""Outbound calls on Vonage: placed with ``POST /v1/calls`` as the application (RS256 JWT),
answered through a signed answer webhook (NCCO ``connect`` to our websocket), driven by signed
events, with advanced machine detection and a message left by replacing the call's NCCO."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from gateway.telephony.vonage_webhooks import e164
from providers.events import AgentAudio, ResponseDone
from tests.fakes.vonage_media import FakeVonageStream
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import PUBLIC_URL
from tests.gateway.telephony.outbound_fixtures import CALLEE, until
from tests.gateway.telephony.outbound_kit import OutboundLine, route_number
from tests.gateway.telephony.test_media_stream import AGENT_PCM_100MS
from tests.gateway.telephony.vonage.conftest import VONAGE_NUMBER, FakeVoiceApi, signed_jwt


class Line(OutboundLine):
    def __init__(self, gateway: Gateway, api: FakeVoiceApi, assistant_id: int) -> None:
        super().__init__(gateway, VONAGE_NUMBER, assistant_id)
        self.api = api

    async def place(self, **body: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
        created = await self.create(**body)
        call_uuid, dialled = self.api.created[-1]
        return created, call_uuid, dialled

    def _local(self, public: str) -> str:
        parts = urlsplit(public)
        return f"{self.gateway.url}{parts.path}?{parts.query}"

    async def answer(self, call_uuid: str, dialled: dict[str, Any]) -> list[dict[str, Any]]:
        """Vonage fetches the answer URL (GET, the call's fields in the query) on answer."""
        fields = {"uuid": call_uuid, "conversation_uuid": "CON-1", "to": dialled["to"][0]["number"],
                  "from": dialled["from"]["number"]}  # fmt: skip
        url = (
            self._local(dialled["answer_url"][0])
            + "&"
            + "&".join(f"{k}={v}" for k, v in fields.items())
        )
        headers = {"Authorization": "Bearer " + signed_jwt(b"")}
        async with self.gateway.http.get(url, headers=headers) as response:
            assert response.status == 200, await response.text()
            ncco: list[dict[str, Any]] = await response.json()
            return ncco

    async def event(self, call_uuid: str, dialled: dict[str, Any], **data: Any) -> int:
        body = orjson.dumps({"uuid": call_uuid, "conversation_uuid": "CON-1", **data})
        headers = {"Authorization": "Bearer " + signed_jwt(body),
                   "Content-Type": "application/json"}  # fmt: skip
        url = self._local(dialled["event_url"][0])
        async with self.gateway.http.post(url, data=body, headers=headers) as response:
            return response.status

    async def open_stream(self, call_uuid: str, dialled: dict[str, Any]) -> FakeVonageStream:
        ncco = await self.answer(call_uuid, dialled)
        (endpoint,) = ncco[0]["endpoint"]
        assert endpoint["uri"] == "wss://gw.example.com/telephony/vonage/media"
        return await FakeVonageStream.dial(self.gateway.http, self.gateway.url, endpoint)


@pytest.fixture
async def line(vonage_gateway: Gateway, voice_api: tuple[FakeVoiceApi, bytes]) -> Line:
    assistant_id = await route_number(vonage_gateway, VONAGE_NUMBER, "vonage")
    return Line(vonage_gateway, voice_api[0], assistant_id)


async def test_a_call_is_placed_answered_bridged_and_ends(line: Line) -> None:
    gw = line.gateway
    created, call_uuid, dialled = await line.place(machine_detection="detect")
    session_id = created["session_id"]
    assert dialled["to"] == [{"type": "phone", "number": CALLEE[1:]}]
    assert dialled["from"] == {"type": "phone", "number": VONAGE_NUMBER[1:]}
    query = f"?session={session_id}"
    assert dialled["answer_url"] == [f"{PUBLIC_URL}/telephony/vonage/outbound/answer{query}"]
    assert dialled["event_url"] == [f"{PUBLIC_URL}/telephony/vonage/outbound/status{query}"]
    assert dialled["advanced_machine_detection"] == {"behavior": "continue", "mode": "detect"}
    assert (dialled["ringing_timer"], dialled["length_timer"]) == (30, 3605)
    assert created["call_sid"] == call_uuid
    assert await line.event(call_uuid, dialled, status="ringing") == 204
    assert (await line.view(created["id"]))["status"] == "ringing"
    stream = await line.open_stream(call_uuid, dialled)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    provider = gw.scripted.sessions[-1]
    await stream.send_pcm(bytes(2 * 24 * 200))  # 200 ms of L16 silence at 24 kHz
    assert len(await provider.audio_at_least(4800)) >= 4800
    provider.emit(AgentAudio(AGENT_PCM_100MS * 3, "hello"), ResponseDone("hello"))
    await stream.wait_for_audio(len(AGENT_PCM_100MS) * 3)
    assert await line.event(call_uuid, dialled, status="human") == 204
    view = await line.view(created["id"])
    assert (view["status"], view["answered_by"]) == ("in-progress", "human")
    await stream.stop()  # the callee hangs up: the socket closes
    await stream.wait_closed()
    assert await line.event(call_uuid, dialled, status="completed", duration="6") == 204
    view = await line.view(created["id"])
    assert (view["status"], view["duration_s"]) == ("completed", 6)
    session = await gw.ctx.store.sessions.get(session_id)
    assert session is not None and session.status == "ended"
    assert session.meta["carrier"] == "vonage" and e164(VONAGE_NUMBER[1:]) == VONAGE_NUMBER
    assert await line.slots() == 0
    assert line.api.updates == []  # the callee hung up: nothing to end


@pytest.mark.parametrize(
    ("vonage_status", "status"),
    [("busy", "busy"), ("timeout", "no-answer"), ("rejected", "failed"), ("failed", "failed")],
)
async def test_unanswered_calls_end_and_free_their_slot(
    line: Line, vonage_status: str, status: str
) -> None:
    created, call_uuid, dialled = await line.place()
    assert await line.event(call_uuid, dialled, status=vonage_status) == 204
    await line.assert_ended(created["id"], status)


async def test_a_machine_is_hung_up_on(line: Line) -> None:
    created, call_uuid, dialled = await line.place(machine_detection="detect")
    await line.open_stream(call_uuid, dialled)
    assert await line.event(call_uuid, dialled, status="machine") == 204
    await until(lambda: (call_uuid, {"action": "hangup"}) in line.api.updates)
    view = await line.view(created["id"])
    assert (view["answered_by"], view["end_reason"]) == ("machine", "voicemail")


async def test_leave_message_talks_after_the_beep_once(line: Line) -> None:
    message = "Hello, this is Kura calling about your appointment."
    created, call_uuid, dialled = await line.place(
        machine_detection="leave_message", voicemail_message=message
    )
    assert dialled["advanced_machine_detection"]["mode"] == "detect_beep"
    await line.open_stream(call_uuid, dialled)
    assert await line.event(call_uuid, dialled, status="machine") == 204  # greeting playing
    for _ in range(2):  # a repeated event leaves no second message
        assert await line.event(call_uuid, dialled, status="machine", sub_state="beep_start") == 204
    await until(lambda: line.api.updates)
    transfers = [body for uuid_, body in line.api.updates if body["action"] == "transfer"]
    assert transfers == [{"action": "transfer", "destination": {
        "type": "ncco", "ncco": [{"action": "talk", "text": message}]}}]  # fmt: skip
    view = await line.view(created["id"])
    assert (view["answered_by"], view["end_reason"]) == ("machine", "voicemail")


async def test_an_event_for_another_leg_is_refused(line: Line) -> None:
    created, call_uuid, dialled = await line.place()
    other_uuid = call_uuid[:-4] + "ffff"
    assert await line.event(other_uuid, dialled, status="completed") == 403
    assert (await line.view(created["id"]))["status"] == "queued"


async def test_a_refused_dial_is_502_and_frees_the_slot(line: Line) -> None:
    line.api.fail_create = 400
    await line.assert_refused(502, "Vonage status 400")
