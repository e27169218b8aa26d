"""Warm transfers on Vonage, end to end: a call's websocket, the fake Voice REST API that rings
the human (``POST /v1/calls``), its signed answer (a ``talk`` whisper and a one-key ``input``),
the ``input`` result at the decision URL, its events, and the ``conversation`` the human joins
and the caller is moved into (``PUT /v1/calls/{uuid}`` with a ``transfer`` to that NCCO).

Accepted, declined (the input timed out), unanswered and the caller hanging up while the
human's phone rings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from providers.events import AgentAudio, ResponseDone, ToolCall
from tests.fakes.scripted_provider import ScriptedSession
from tests.fakes.vonage_media import FakeVonageStream
from tests.gateway.telephony.conftest import PUBLIC_URL
from tests.gateway.telephony.test_media_stream import AGENT_PCM_100MS, provider_session, until
from tests.gateway.telephony.test_warm_transfer import DESTINATIONS, SALES
from tests.gateway.telephony.vonage.conftest import FakeVoiceApi, FakeVonage

LINE = "+447700900777"


class VonageTransfer:
    """A Vonage call to LINE, ready to transfer."""

    def __init__(
        self, vonage: FakeVonage, api: FakeVoiceApi, stream: FakeVonageStream, session: Any
    ) -> None:
        self.vonage, self.api, self.stream = vonage, api, stream
        self.session: ScriptedSession = session

    async def ask_warm(self) -> tuple[str, dict[str, Any]]:
        arguments = {"destination": "Sales", "mode": "warm", "summary": "Ana wants a quote."}
        self.session.emit(ToolCall("t1", "transfer_call", arguments))
        _call_id, result = await self.session.next_tool_result()
        assert result["ok"] is True and result["mode"] == "warm", result
        leg_uuid, body = self.api.created[-1]
        assert body["to"] == [{"type": "phone", "number": SALES[1:]}]
        assert body["from"] == {"type": "phone", "number": LINE[1:]}
        for url in (*body["answer_url"], *body["event_url"]):
            assert url.startswith(PUBLIC_URL + "/telephony/vonage/transfer/")
        return leg_uuid, body

    async def post(self, url: str, data: dict[str, Any]) -> Any:
        response = await self.vonage.post_json(urlsplit(url).path, data)
        if response.status == 204:
            return None
        return await self.vonage.ncco(response)

    def leg(self, leg_uuid: str, **extra: Any) -> dict[str, Any]:
        return {"uuid": leg_uuid, "conversation_uuid": "CON-leg", "from": LINE[1:],
                "to": SALES[1:], **extra}  # fmt: skip

    async def event(self, leg_uuid: str, body: dict[str, Any], status: str) -> None:
        assert await self.post(body["event_url"][0], self.leg(leg_uuid, status=status)) is None

    async def press(self, leg_uuid: str, whisper: list[dict[str, Any]], digits: str) -> Any:
        """The ``input`` result (``""``: it timed out), as Vonage posts it to its eventUrl."""
        (url,) = whisper[1]["eventUrl"]
        dtmf = {"digits": digits, "timed_out": not digits}
        return await self.post(url, self.leg(leg_uuid, dtmf=dtmf, speech={"results": []}))


@pytest.fixture
async def call(
    vonage: FakeVonage, voice_api: tuple[FakeVoiceApi, bytes]
) -> AsyncIterator[VonageTransfer]:
    gw = vonage.gateway
    assistant_id = await gw.use_scripted_assistant(transfer_destinations=DESTINATIONS)
    await gw.ctx.store.numbers.create(
        {"number": LINE, "assistant_id": assistant_id, "carrier": "vonage"}, gw.clock.now()
    )
    stream = await vonage.dial(LINE)
    yield VonageTransfer(vonage, voice_api[0], stream, await provider_session(gw))
    await stream.aclose()


async def _settled(call: VonageTransfer, state: str) -> None:
    store = call.vonage.gateway.ctx.store

    async def final() -> None:
        while True:
            rows = await store.transfers.of_call(call.stream.call_sid)
            if rows and rows[-1].state == state:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(final(), 5)


async def test_accepted_the_caller_joins_the_human_in_the_conversation(
    call: VonageTransfer,
) -> None:
    leg_uuid, body = await call.ask_warm()
    await call.event(leg_uuid, body, "ringing")
    whisper = await call.post(body["answer_url"][0], call.leg(leg_uuid))
    assert [action["action"] for action in whisper] == ["talk", "input"]
    assert "Ana wants a quote." in whisper[0]["text"]
    joined = await call.press(leg_uuid, whisper, "1")
    assert [action["action"] for action in joined] == ["talk", "conversation"]
    room = joined[1]["name"]
    await call.stream.wait_closed()  # the assistant leaves; the caller is moved in
    await until(lambda: bool(call.api.updates))
    ((moved, update),) = call.api.updates
    assert moved == call.stream.call_sid
    (conversation,) = update["destination"]["ncco"]
    assert update["action"] == "transfer" and conversation["name"] == room
    await _settled(call, "accepted")


async def test_declined_by_no_key_the_caller_is_back_with_the_assistant(
    call: VonageTransfer,
) -> None:
    leg_uuid, body = await call.ask_warm()
    whisper = await call.post(body["answer_url"][0], call.leg(leg_uuid))
    goodbye = await call.press(leg_uuid, whisper, "")
    assert [action["action"] for action in goodbye] == ["talk"]
    assert "Sales declined the call" in await call.session.next_text()
    await _settled(call, "declined")
    before = len(call.stream.received_audio)
    call.session.emit(AgentAudio(AGENT_PCM_100MS, "after"), ResponseDone("after"))
    await call.stream.wait_for_audio(before + len(AGENT_PCM_100MS))  # heard again
    assert not call.api.updates  # nothing moved, nothing hung up


async def test_unanswered_the_assistant_is_told_and_carries_on(call: VonageTransfer) -> None:
    leg_uuid, body = await call.ask_warm()
    await call.event(leg_uuid, body, "ringing")
    await call.event(leg_uuid, body, "timeout")  # Vonage's word for no answer
    assert "did not answer" in await call.session.next_text()
    await _settled(call, "no_answer")
    assert not call.stream.closed.is_set()


async def test_the_caller_hanging_up_hangs_up_the_ringing_leg(call: VonageTransfer) -> None:
    leg_uuid, body = await call.ask_warm()
    await call.event(leg_uuid, body, "ringing")
    await call.stream.stop()
    await until(lambda: any(uuid == leg_uuid for uuid, _ in call.api.updates))
    assert (leg_uuid, {"action": "hangup"}) in call.api.updates
    await _settled(call, "caller_gone")
