"""Outbound calls on SignalWire: placed through its LaML REST API (Twilio's API under the space
URL, basic auth project:API token), driven by callbacks signed with the project's Signing Key,
streamed as L16 at 24 kHz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from gateway.telephony.compat_dialer import CompatDialer
from gateway.telephony.dialing import DialCapabilities
from gateway.telephony.service import TELEPHONY
from kinds.clock import SystemClock
from providers.events import AgentAudio, ResponseDone
from tests.fakes.twilio_media import FakeMediaStream
from tests.fakes.twilio_rest import FakeTwilioRest, PlacedCall
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import AUTH_TOKEN, PUBLIC_URL, stream_parameters
from tests.gateway.telephony.outbound_fixtures import CALLEE, Outbound, until
from tests.gateway.telephony.test_signalwire import L16_24K, NUMBER, SIGNING_KEY

PROJECT_ID = "b3c4d5e6-0000-4000-8000-00000000a001"
API_TOKEN = "PT" + "a" * 48
AGENT_PCM_100MS = b"\x10\x27" * 2400  # 100 ms of PCM16 at 24 kHz


async def _gateway(tmp_path: Path, **settings: Any) -> AsyncIterator[Outbound]:
    async with aiohttp.ClientSession() as http:
        carrier = FakeTwilioRest.signalwire(SIGNING_KEY, "", http)
        await carrier.start()
        try:
            async for gw in start_gateway(
                tmp_path, SystemClock(), twilio_auth_token=SecretStr(AUTH_TOKEN),
                signalwire_token=SecretStr(SIGNING_KEY), signalwire_project_id=PROJECT_ID,
                signalwire_space_url=carrier.url, public_url=PUBLIC_URL, **settings,
            ):  # fmt: skip
                carrier.gateway_url = gw.url
                assistant_id = await gw.use_scripted_assistant()
                await gw.ctx.store.numbers.create(
                    {"number": NUMBER, "assistant_id": assistant_id, "carrier": "signalwire"},
                    gw.clock.now(),
                )
                yield Outbound(gw, carrier)
        finally:
            await carrier.aclose()


@pytest.fixture
async def outbound(tmp_path: Path) -> AsyncIterator[Outbound]:
    async for line in _gateway(tmp_path, signalwire_api_token=SecretStr(API_TOKEN)):
        yield line


async def _place(outbound: Outbound, **body: Any) -> tuple[dict[str, Any], PlacedCall]:
    """A call from the SignalWire number, by its assistant (on the scripted provider)."""
    number = await outbound.gateway.ctx.store.numbers.get_by_number(NUMBER)
    assert number is not None
    return await outbound.place(**{"from": NUMBER, "assistant_id": number.assistant_id, **body})


async def _open_stream(outbound: Outbound, call: PlacedCall) -> FakeMediaStream:
    document = await outbound.carrier.answer(call)
    stream = document.find("./Connect/Stream")
    connect = document.find("./Connect")
    assert stream is not None and connect is not None
    assert stream.attrib["url"] == "wss://gw.example.com/telephony/signalwire/media"
    assert stream.attrib["codec"] == "L16@24000h"
    assert connect.attrib["action"] == PUBLIC_URL + "/telephony/signalwire/action"
    return await FakeMediaStream.open(
        outbound.gateway.http, outbound.gateway.url, stream.attrib["url"],
        auth_token=SIGNING_KEY, call_sid=call.sid, parameters=stream_parameters(document),
        signature=None, media_format=L16_24K,
    )  # fmt: skip


async def _slots(gw: Gateway) -> int:
    return await gw.ctx.shared.slots.count("global")


async def test_a_call_is_placed_answered_and_runs_as_a_session(outbound: Outbound) -> None:
    gw = outbound.gateway
    created, placed = await _place(outbound, machine_detection="detect")
    session_id = created["session_id"]
    form = placed.form
    assert placed.account == PROJECT_ID
    assert (form["To"], form["From"]) == (CALLEE, NUMBER)
    assert form["Url"] == f"{PUBLIC_URL}/telephony/signalwire/outbound/answer?session={session_id}"
    assert "/telephony/signalwire/outbound/status?session=" in form["StatusCallback"]
    assert "/telephony/signalwire/outbound/amd?session=" in form["AsyncAmdStatusCallback"]
    assert (form["MachineDetection"], form["AsyncAmd"]) == ("Enable", "true")
    assert (created["carrier"], created["call_sid"]) == ("signalwire", placed.sid)
    assert await outbound.carrier.status(placed, "ringing") == 200
    assert (await outbound.get(created["id"]))["status"] == "ringing"
    stream = await _open_stream(outbound, placed)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    provider = gw.scripted.sessions[-1]
    await stream.send_audio(b"\x00\x00" * 4800)  # 200 ms of PCM16 silence at 24 kHz
    assert len(await provider.audio_at_least(4800)) >= 4800
    provider.emit(AgentAudio(AGENT_PCM_100MS * 3, "hello"), ResponseDone("hello"))
    await stream.wait_for_audio(len(AGENT_PCM_100MS) * 3)  # L16 both ways: no resampling
    assert await outbound.carrier.machine_verdict(placed, "human") == 200
    view = await outbound.get(created["id"])
    assert (view["status"], view["answered_by"]) == ("in-progress", "human")
    await stream.stop()
    await stream.wait_closed()
    assert await outbound.carrier.status(placed, "completed", CallDuration="4") == 200
    view = await outbound.get(created["id"])
    assert (view["status"], view["duration_s"], view["end_reason"]) == ("completed", 4, "completed")
    session = await gw.ctx.store.sessions.get(session_id)
    assert session is not None and session.status == "ended"
    assert session.meta["carrier"] == "signalwire" and session.meta["direction"] == "outbound"
    assert await _slots(gw) == 0
    assert not placed.updates  # nothing asked of the carrier after the dial


@pytest.mark.parametrize("outcome", ["busy", "no-answer", "failed"])
async def test_unanswered_calls_end_and_free_their_slot(outbound: Outbound, outcome: str) -> None:
    created, placed = await _place(outbound)
    await outbound.carrier.status(placed, "ringing")
    await outbound.carrier.status(placed, outcome, CallDuration="0")
    view = await outbound.get(created["id"])
    assert (view["status"], view["end_reason"]) == (outcome, outcome.replace("-", "_"))
    session = await outbound.gateway.ctx.store.sessions.get(created["session_id"])
    assert session is not None and session.end_reason == "call_" + outcome.replace("-", "_")
    assert await _slots(outbound.gateway) == 0


async def test_a_machine_is_hung_up_on_through_the_laml_api(outbound: Outbound) -> None:
    created, placed = await _place(outbound, machine_detection="detect")
    await _open_stream(outbound, placed)
    assert await outbound.carrier.machine_verdict(placed, "machine_start") == 200
    await until(lambda: placed.updates)
    assert placed.updates[0]["Status"] == "completed"
    view = await outbound.get(created["id"])
    assert (view["answered_by"], view["end_reason"]) == ("machine", "voicemail")


async def test_leave_message_replaces_the_calls_cxml_once(outbound: Outbound) -> None:
    message = "Hello, this is Kura calling about your appointment."
    _, placed = await _place(outbound, machine_detection="leave_message", voicemail_message=message)
    assert placed.form["MachineDetection"] == "DetectMessageEnd"
    await _open_stream(outbound, placed)
    for _ in range(2):
        assert await outbound.carrier.machine_verdict(placed, "machine_end_beep") == 200
    await until(lambda: placed.updates)
    assert len(placed.updates) == 1
    assert f"<Say>{message}</Say><Hangup />" in placed.updates[0]["Twiml"]


async def test_hanging_up_a_ringing_call_cancels_it(outbound: Outbound) -> None:
    created, placed = await _place(outbound)
    await outbound.carrier.status(placed, "ringing")
    response = await outbound.gateway.request("DELETE", f"/api/v1/calls/{created['id']}")
    assert response.status == 200, await response.text()
    await until(lambda: placed.updates)
    assert placed.updates[0]["Status"] == "canceled"
    assert (await response.json())["end_reason"] == "api_hangup"


async def test_callbacks_not_signed_by_signalwire_or_on_twilios_door_are_refused(
    outbound: Outbound,
) -> None:
    created, placed = await _place(outbound)
    twilio_signed = FakeTwilioRest(AUTH_TOKEN, outbound.gateway.url, outbound.gateway.http)
    assert await twilio_signed.status(placed, "completed") == 403  # Twilio's token, our door
    twilio_door = PlacedCall(placed.sid, {
        **placed.form,
        "StatusCallback": placed.form["StatusCallback"].replace("/signalwire/", "/twilio/"),
    }, 0.0)  # fmt: skip
    # Well signed for Twilio's door (and a UUID is no Twilio CallSid): still not this call's.
    assert await twilio_signed.status(twilio_door, "completed") in (400, 403)
    view = await outbound.get(created["id"])
    assert view["status"] == "queued"


async def test_a_carrier_refusal_is_502_and_frees_the_slot(outbound: Outbound) -> None:
    outbound.carrier.fail_next = 400
    response = await outbound.post_call(**{"from": NUMBER})
    assert response.status == 502
    assert "SignalWire error" in await response.text()
    assert await _slots(outbound.gateway) == 0


async def test_without_an_api_token_calls_get_503_naming_the_settings(tmp_path: Path) -> None:
    async for line in _gateway(tmp_path):
        response = await line.post_call(**{"from": NUMBER})
        assert response.status == 503
        assert "KURA_SIGNALWIRE_API_TOKEN" in await response.text()
        assert line.carrier.calls == []


async def test_a_carrier_without_machine_detection_refuses_it_with_422(outbound: Outbound) -> None:
    dialers = outbound.gateway.server.app[TELEPHONY].outbound.dialers
    dialer = dialers["signalwire"]
    assert isinstance(dialer, CompatDialer)
    no_amd = CompatDialer(
        dialer.rest, dialer.signatures, dialer.paths,
        DialCapabilities("signalwire", "SignalWire", frozenset()),
    )  # fmt: skip
    dialers["signalwire"] = no_amd  # type: ignore[index]
    response = await outbound.post_call(**{"from": NUMBER, "machine_detection": "detect"})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["details"][0]["field"] == "machine_detection"
    assert "SignalWire calls cannot use 'detect'" in error["message"]
    assert outbound.carrier.calls == [] and await _slots(outbound.gateway) == 0
    assert (await outbound.post_call(**{"from": NUMBER})).status == 201  # "off" is always fine
