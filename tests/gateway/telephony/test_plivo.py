"""Plivo end to end over loopback: V3-signed webhooks (signed with Plivo's own SDK, never the
gateway's code), the answer XML, and calls on a fake Plivo Audio Stream: checkpoints as marks,
barge-in with ``clearAudio`` (whose dropped checkpoints never come back), DTMF, hang-up, the
after-stream redirect, the apology and bad frames."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import aiohttp
import pytest
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3
from pydantic import SecretStr

from gateway.telephony.call_audio import apology_ulaw
from gateway.telephony.service import TELEPHONY
from kinds.clock import SystemClock
from providers.errors import ProviderUnavailable
from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone
from tests.fakes.plivo_media import FakePlivoStream
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import AUTH_TOKEN, PUBLIC_URL, twiml_of
from tests.gateway.telephony.test_media_stream import AGENT_PCM_100MS, provider_session, until

PLIVO_TOKEN = "plivo_test_auth_token"
NUMBER = "+445550003333"
VOICE = "/telephony/plivo/voice"
STATUS = "/telephony/plivo/status"
ACTION = "/telephony/plivo/action"


@dataclass
class FakePlivo:
    """Sends webhooks as Plivo does: form POSTs with a V3 signature and a fresh nonce."""

    gateway: Gateway
    token: str = PLIVO_TOKEN

    def sign(self, path: str, fields: Mapping[str, str], nonce: str) -> str:
        base = construct_post_url(PUBLIC_URL + path, dict(fields)).decode()
        return str(get_signature_v3(self.token.encode(), base, nonce.encode()).decode())

    def call_fields(self, call_uuid: str | None = None, **fields: str) -> dict[str, str]:
        return {
            "CallUUID": call_uuid or str(uuid.uuid4()), "CallStatus": "ringing",
            "Direction": "inbound", "Event": "StartApp",
            "From": "15550001111", "To": NUMBER.removeprefix("+"), **fields,
        }  # fmt: skip

    async def post(
        self, path: str, fields: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        if headers is None:
            nonce = uuid.uuid4().hex
            headers = {"X-Plivo-Signature-V3": self.sign(path, fields, nonce),
                       "X-Plivo-Signature-V3-Nonce": nonce}  # fmt: skip
        return await self.gateway.http.post(
            self.gateway.url + path, data=dict(fields), headers=dict(headers)
        )


@pytest.fixture
async def plivo_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in start_gateway(
        tmp_path, SystemClock(), twilio_auth_token=SecretStr(AUTH_TOKEN),
        plivo_auth_id="MA000000000000000000", plivo_auth_token=SecretStr(PLIVO_TOKEN),
        public_url=PUBLIC_URL,
    ):  # fmt: skip
        yield gw


@pytest.fixture
async def plivo(plivo_gateway: Gateway) -> FakePlivo:
    """NUMBER routed, on Plivo, to an assistant on the scripted provider."""
    assistant_id = await plivo_gateway.use_scripted_assistant()
    await plivo_gateway.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": assistant_id, "carrier": "plivo"},
        plivo_gateway.clock.now(),
    )
    return FakePlivo(plivo_gateway)


async def answer(plivo: FakePlivo, fields: Mapping[str, str]) -> ElementTree.Element:
    return await twiml_of(await plivo.post(VOICE, fields))


async def dial(plivo: FakePlivo, **kwargs: str) -> FakePlivoStream:
    fields = plivo.call_fields()
    stream = (await answer(plivo, fields)).find("./Stream")
    assert stream is not None and stream.text
    return await FakePlivoStream.dial(
        plivo.gateway.http, plivo.gateway.url, stream.text, call_uuid=fields["CallUUID"],
        extra_headers=stream.attrib["extraHeaders"], **kwargs,
    )  # fmt: skip


async def _sessions(gw: Gateway) -> list[dict[str, object]]:
    return list((await (await gw.request("GET", "/api/v1/sessions")).json())["data"])


# --- webhooks ----------------------------------------------------------------------------------


async def test_the_answer_xml_streams_both_ways_in_mulaw(plivo: FakePlivo) -> None:
    document = await answer(plivo, plivo.call_fields())
    stream, redirect = document.find("./Stream"), document.find("./Redirect")
    assert stream is not None and redirect is not None
    assert stream.text == "wss://gw.example.com/telephony/plivo/media"
    assert stream.attrib["bidirectional"] == "true"
    assert stream.attrib["keepCallAlive"] == "true"
    assert stream.attrib["contentType"] == "audio/x-mulaw;rate=8000"
    assert stream.attrib["extraHeaders"].replace(",", "").replace("=", "").isalnum()
    assert redirect.text == PUBLIC_URL + ACTION
    (session,) = await _sessions(plivo.gateway)
    assert session["phone_number"] == "+15550001111"


async def test_forged_stale_and_unsigned_webhooks_get_403_before_any_work(
    plivo: FakePlivo,
) -> None:
    fields = plivo.call_fields()
    nonce = "12345678901234567890"
    good = plivo.sign(VOICE, fields, nonce)
    cases = [
        {},  # unsigned
        {"X-Plivo-Signature-V3": good},  # no nonce
        {"X-Plivo-Signature-V3-Nonce": nonce},
        {"X-Plivo-Signature-V3": good, "X-Plivo-Signature-V3-Nonce": nonce + "0"},
        {"X-Plivo-Signature-V3": FakePlivo(plivo.gateway, "old_token").sign(VOICE, fields, nonce),
         "X-Plivo-Signature-V3-Nonce": nonce},  # signed with a rotated-out (stale) token
        {"X-Plivo-Signature-V3": plivo.sign(STATUS, fields, nonce),
         "X-Plivo-Signature-V3-Nonce": nonce},  # made for another door
        {"X-Plivo-Signature-V3": "A" * 5000, "X-Plivo-Signature-V3-Nonce": nonce},
        {"X-Plivo-Signature-V3": "é,ü", "X-Plivo-Signature-V3-Nonce": nonce},
    ]  # fmt: skip
    for headers in cases:
        response = await plivo.post(VOICE, fields, headers)
        assert response.status == 403, headers
    tampered = await plivo.post(
        VOICE, {**fields, "From": "15550009999"},
        {"X-Plivo-Signature-V3": good, "X-Plivo-Signature-V3-Nonce": nonce},
    )  # fmt: skip
    assert tampered.status == 403
    assert await _sessions(plivo.gateway) == []


async def test_several_signatures_in_one_header_any_may_match(plivo: FakePlivo) -> None:
    fields = plivo.call_fields()
    nonce = "nonce-1"
    old = FakePlivo(plivo.gateway, "old_token").sign(VOICE, fields, nonce)
    headers = {"X-Plivo-Signature-V3": f"{old},{plivo.sign(VOICE, fields, nonce)}",
               "X-Plivo-Signature-V3-Nonce": nonce}  # fmt: skip
    await twiml_of(await plivo.post(VOICE, fields, headers))


async def test_replays_get_the_same_answer_and_one_session(plivo: FakePlivo) -> None:
    fields = plivo.call_fields()
    nonce = "replayed-nonce"
    headers = {"X-Plivo-Signature-V3": plivo.sign(VOICE, fields, nonce),
               "X-Plivo-Signature-V3-Nonce": nonce}  # fmt: skip
    answers = await asyncio.gather(
        *[(await plivo.post(VOICE, fields, headers)).text() for _ in range(3)]
    )
    assert len(set(answers)) == 1 and "<Stream" in answers[0]
    assert len(await _sessions(plivo.gateway)) == 1


async def test_a_number_of_another_carrier_is_refused(plivo: FakePlivo) -> None:
    gw = plivo.gateway
    await gw.ctx.store.numbers.create(
        {"number": "+15550007777", "assistant_id": 1, "carrier": "twilio"}, gw.clock.now()
    )
    response = await plivo.post(VOICE, plivo.call_fields(To="15550007777"))
    assert response.status == 403
    assert await _sessions(gw) == []


async def test_without_an_auth_token_the_doors_answer_503(tmp_path: Path) -> None:
    async for gw in start_gateway(tmp_path, SystemClock(), public_url=PUBLIC_URL):
        fake = FakePlivo(gw)
        for path in (VOICE, STATUS, ACTION):
            assert (await fake.post(path, fake.call_fields())).status == 503
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await gw.http.ws_connect(gw.url + "/telephony/plivo/media")
        assert refused.value.status == 503


async def test_hangup_ends_the_session_and_the_redirect_says_goodbye(plivo: FakePlivo) -> None:
    fields = plivo.call_fields()
    await answer(plivo, fields)
    hangup = {**fields, "CallStatus": "completed", "Event": "Hangup", "Duration": "4",
              "HangupCause": "NORMAL_CLEARING"}  # fmt: skip
    await twiml_of(await plivo.post(STATUS, hangup))
    (session,) = await _sessions(plivo.gateway)
    assert session["status"] == "ended"
    document = await twiml_of(await plivo.post(ACTION, fields))
    assert [child.tag for child in document] == ["Speak", "Hangup"]


# --- calls -------------------------------------------------------------------------------------


async def test_a_full_call_with_checkpoints_and_hang_up(plivo: FakePlivo) -> None:
    gw = plivo.gateway
    stream = await dial(plivo)
    session = await provider_session(gw)
    await stream.send_ulaw(b"\xff" * 160 * 10)
    await until(lambda: len(session.audio_in) >= 9 * 960)
    session.emit(AgentAudio(AGENT_PCM_100MS * 3, "item1"), ResponseDone("item1"))
    await stream.wait_for_audio(2400)
    assert len(stream.received_audio) == 2400
    assert stream.marks_received
    await stream.stop()
    await asyncio.wait_for(session.closed.wait(), 2)
    await stream.aclose()
    view = await (await gw.request("GET", f"/api/v1/sessions/{session.context.session_id}")).json()
    assert (view["channel"], view["end_reason"], view["metadata"]["carrier"]) == (
        "phone", "caller_hangup", "plivo")  # fmt: skip


@pytest.mark.parametrize("played_event", ["playedStream", "played"])
async def test_barge_in_clears_with_no_stale_audio(plivo: FakePlivo, played_event: str) -> None:
    stream = await dial(plivo)
    stream.played_event = played_event
    session = await provider_session(plivo.gateway)
    session.emit(AgentAudio(AGENT_PCM_100MS * 20, "item1"))
    await stream.wait_for_audio(15_800)
    await stream.play(700)
    await stream.send_dtmf("1")  # read in order: the checkpoints are in before this digit
    await until(lambda: session.texts == ["The caller pressed 1"])
    session.emit(CallerSpeechStarted())
    await until(lambda: bool(stream.clears) and bool(session.interrupts))
    (played_ms,) = session.interrupts
    assert played_ms is not None and 600 <= played_ms <= 700
    received = len(stream.received_audio)
    session.emit(AgentAudio(AGENT_PCM_100MS, "item1"))  # stale audio of the cut item
    session.emit(AgentAudio(AGENT_PCM_100MS, "item2"), ResponseDone("item2"))
    await stream.wait_for_audio(received + 800)
    await stream.send_dtmf("2")
    await until(lambda: len(session.texts) == 2)
    assert received + 800 <= len(stream.received_audio) <= received + 960  # item2 only
    await stream.aclose()


async def test_a_clear_leaves_nothing_waiting_for_dropped_checkpoints(plivo: FakePlivo) -> None:
    """Plivo never echoes the checkpoints a clear dropped: the call must not wait for them."""
    stream = await dial(plivo)
    session = await provider_session(plivo.gateway)
    session.emit(AgentAudio(AGENT_PCM_100MS * 30, "item1"))  # three seconds, none played
    await stream.wait_for_audio(23_000)
    session.emit(CallerSpeechStarted())
    await until(lambda: bool(stream.clears))
    session.emit(ResponseDone("item1"))
    session.fail(ProviderUnavailable("gone"))  # the session ends; the bridge says goodbye
    apology = len(apology_ulaw())
    await stream.wait_for_audio(len(stream.received_audio) + apology)
    await stream.play(apology // 8 + 20)  # only the apology's checkpoints ever come back
    await stream.wait_closed(timeout_s=3)  # not the three seconds of dropped audio, nor more
    await stream.aclose()


async def test_bad_frames_are_ignored_and_the_call_goes_on(plivo: FakePlivo) -> None:
    stream = await dial(plivo)
    session = await provider_session(plivo.gateway)
    for raw in ("{nope", json.dumps({"event": "dance"}), json.dumps([1]), "x" * 60_000,
                json.dumps({"event": "media", "media": {"payload": "!!!"}}),
                json.dumps({"event": "dtmf", "dtmf": {"digit": "xx"}}),
                json.dumps({"event": "playedStream", "name": 5})):  # fmt: skip
        await stream.send_raw(raw)
    await stream.ws.send_bytes(b"\x00\x01")
    await stream.send_ulaw(b"\xff" * 160)
    await until(lambda: len(session.audio_in) >= 800)
    assert not stream.ws.closed
    await stream.aclose()


async def test_a_bad_token_or_l16_stream_is_refused_and_costs_no_provider(
    plivo: FakePlivo,
) -> None:
    gw = plivo.gateway
    fields = plivo.call_fields()
    stream_el = (await answer(plivo, fields)).find("./Stream")
    assert stream_el is not None and stream_el.text
    good = stream_el.attrib["extraHeaders"]
    for headers, encoding in ((good.replace("kuratok=", "kuratok=00"), "audio/x-mulaw"),
                              ("", "audio/x-mulaw"), (good, "audio/x-l16")):  # fmt: skip
        stream = await FakePlivoStream.dial(
            gw.http, gw.url, stream_el.text, call_uuid=fields["CallUUID"],
            extra_headers=headers, encoding=encoding,
        )  # fmt: skip
        await stream.wait_closed()
        assert stream.ws.close_code == 1008
    assert gw.scripted.sessions == []


async def test_provider_down_plays_the_apology(plivo: FakePlivo) -> None:
    plivo.gateway.scripted.fail_with = ProviderUnavailable("refused")
    stream = await dial(plivo)
    apology = len(apology_ulaw())
    await stream.wait_for_audio(apology)
    await stream.play(apology // 8 + 20)
    await stream.wait_closed()
    assert len(stream.received_audio) == apology + (-apology % 160)
    await stream.aclose()


async def test_the_redirect_transfers_when_the_conversation_asked(plivo: FakePlivo) -> None:
    gw = plivo.gateway
    store = gw.ctx.store
    await store.assistants.update(1, {"transfer_number": "+15550003333"}, gw.clock.now())
    await store.numbers.create(
        {"number": "+445550004444", "assistant_id": 1, "carrier": "plivo"}, gw.clock.now()
    )
    fields = plivo.call_fields(To="445550004444")
    await answer(plivo, fields)
    (session,) = await _sessions(gw)
    assert await gw.server.app[TELEPHONY].calls.request_transfer(str(session["session_id"]))
    document = await twiml_of(await plivo.post(ACTION, {**fields, "CallStatus": "in-progress"}))
    assert [child.tag for child in document] == ["Speak", "Dial"]
    assert document.findtext("./Dial/Number") == "15550003333"
