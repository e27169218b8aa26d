"""Telnyx's TeXML webhooks: Ed25519 signatures, routing by the number's carrier, the TeXML it
answers, and idempotent call-progress events."""

from __future__ import annotations

import asyncio
import base64
import random
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from nacl.signing import SigningKey

from gateway.store.keys import hash_secret
from gateway.store.sessions import SessionFilter
from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import (
    CALLER,
    NUMBER,
    TELNYX_NUMBER,
    FakeTelnyx,
    FakeTwilio,
    stream_parameters,
    twiml_of,
)

VOICE = "/telephony/telnyx/voice"


async def _session_count(gateway: Gateway) -> int:
    _, total = await gateway.ctx.store.sessions.search(SessionFilter(), limit=1, offset=0)
    return total


async def test_a_signed_call_gets_a_phone_session_and_a_bidirectional_rtp_stream(
    telnyx: FakeTelnyx,
) -> None:
    fields = telnyx.call_fields()
    document = await twiml_of(await telnyx.voice(fields))
    stream = document.find("./Connect/Stream")
    assert stream is not None
    assert stream.attrib["url"] == "wss://gw.example.com/telephony/telnyx/media"
    assert stream.attrib["bidirectionalMode"] == "rtp"
    assert stream.attrib["bidirectionalCodec"] == stream.attrib["codec"] == "PCMU"
    params = stream_parameters(document)
    assert set(params) == {"session_id", "token", "call_sid"}
    assert params["call_sid"] == fields["CallSid"]
    path = f"/api/v1/sessions/{params['session_id']}"
    view = await (await telnyx.gateway.request("GET", path)).json()
    assert (view["channel"], view["status"], view["phone_number"]) == ("phone", "pending", CALLER)
    assert view["contact_id"] is not None
    assert view["metadata"]["carrier"] == "telnyx"
    assert view["metadata"]["call_sid"] == fields["CallSid"]
    call = await telnyx.gateway.ctx.store.calls.get_by_sid(fields["CallSid"])
    assert call is not None
    assert call.carrier == "telnyx"
    assert call.media_token_hash == hash_secret(params["token"])


async def test_forgeries_are_403_before_any_work(telnyx: FakeTelnyx) -> None:
    body = urlencode(telnyx.call_fields()).encode()
    now = int(time.time())
    good = telnyx.sign(body)
    other_key = FakeTelnyx(telnyx.gateway, key=SigningKey.generate())
    reserialised = urlencode(dict(reversed(list(telnyx.call_fields().items())))).encode()
    cases = [
        (body, other_key.sign(body)),  # the wrong account's key
        (body, telnyx.sign(body, now - 301)),  # stale
        (body, telnyx.sign(body, now + 301)),  # from the future
        (body + b"&x=1", good),  # the body changed after signing
        (reserialised, telnyx.sign(body)),  # the same fields, serialised another way
        (body, {k: v for k, v in good.items() if k != "telnyx-signature-ed25519"}),
        (body, {k: v for k, v in good.items() if k != "telnyx-timestamp"}),
        (body, good | {"telnyx-timestamp": str(now + 1)}),  # the signature is over the time
        (body, good | {"telnyx-timestamp": "12ab"}),
        (body, good | {"telnyx-signature-ed25519": "not base64!"}),
        (body, good | {"telnyx-signature-ed25519": base64.b64encode(b"x" * 63).decode()}),
        (body, good | {"telnyx-signature-ed25519": "A" * 5000}),
    ]
    for sent, headers in cases:
        response = await telnyx.post(VOICE, sent, headers)
        assert response.status == 403, (sent, headers, await response.text())
    assert await _session_count(telnyx.gateway) == 0


async def test_a_signature_inside_the_window_is_accepted(telnyx: FakeTelnyx) -> None:
    body = urlencode(telnyx.call_fields()).encode()
    response = await telnyx.post(VOICE, body, telnyx.sign(body, int(time.time()) - 290))
    await twiml_of(response)


async def test_replays_get_the_same_answer_and_one_session(telnyx: FakeTelnyx) -> None:
    body = urlencode(telnyx.call_fields()).encode()
    headers = telnyx.sign(body)
    answers = [await (await telnyx.post(VOICE, body, headers)).text() for _ in range(3)]
    answers += await asyncio.gather(
        *[(await telnyx.post(VOICE, body, headers)).text() for _ in range(3)]
    )
    assert len(set(answers)) == 1
    assert "<Stream" in answers[0]
    assert await _session_count(telnyx.gateway) == 1


async def test_a_number_of_another_carrier_is_refused(telnyx: FakeTelnyx) -> None:
    gw = telnyx.gateway
    await gw.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": 1, "carrier": "twilio"}, gw.clock.now()
    )
    response = await telnyx.voice(telnyx.call_fields(To=NUMBER))
    assert response.status == 403
    twilio = FakeTwilio(gw)  # and the other way round
    response = await twilio.voice(twilio.call_fields(To=TELNYX_NUMBER))
    assert response.status == 403
    assert await _session_count(gw) == 0


async def test_an_unknown_number_is_not_in_service(telnyx: FakeTelnyx) -> None:
    document = await twiml_of(await telnyx.voice(telnyx.call_fields(To="+445550000000")))
    assert document.find("Say") is not None
    assert document.find("Hangup") is not None


async def test_malformed_bodies_are_4xx_never_500(telnyx: FakeTelnyx) -> None:
    for body in (b"CallSid=", b"To=%2B1", b"\xff\xfe", b"a=1&&&b", b"CallSid=x;y"):
        response = await telnyx.post(VOICE, body)
        assert 400 <= response.status < 500, body


async def test_without_the_public_key_the_webhooks_answer_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async for gw in start_gateway(tmp_path, SystemClock(), public_url="https://gw.example.com"):
        fake = FakeTelnyx(gw)
        for path in (VOICE, "/telephony/telnyx/status"):
            response = await fake.post(path, urlencode(fake.call_fields()).encode())
            assert response.status == 503
        media = await gw.http.get(gw.url + "/telephony/telnyx/media")
        assert media.status == 503
    assert "KURA_TELNYX_PUBLIC_KEY is not set" in caplog.text


async def test_shuffled_and_duplicated_call_events_converge(telnyx: FakeTelnyx) -> None:
    rng = random.Random(11)
    store = telnyx.gateway.ctx.store
    for _ in range(3):
        fields = telnyx.call_fields()
        params = stream_parameters(await twiml_of(await telnyx.voice(fields)))

        def event(status: str, seq: int, **extra: str) -> dict[str, str]:
            return dict(fields, CallStatus=status, SequenceNumber=str(seq),  # noqa: B023
                        CallbackSource="call-progress-events", **extra)  # fmt: skip

        events = [event("initiated", 0), event("in-progress", 1),
                  event("completed", 2, CallDuration="42")]  # fmt: skip
        deliveries = events + [rng.choice(events) for _ in range(3)]
        rng.shuffle(deliveries)
        for body in deliveries:
            assert (await telnyx.status(body)).status == 200
        call = await store.calls.get_by_sid(fields["CallSid"])
        assert call is not None
        assert (call.status, call.duration_s) == ("completed", 42)
        session = await store.sessions.get(params["session_id"])
        assert session is not None
        assert (session.status, session.end_reason) == ("ended", "call_completed")


async def test_call_events_need_a_signature(telnyx: FakeTelnyx) -> None:
    body = urlencode(telnyx.call_fields(CallStatus="completed")).encode()
    response = await telnyx.post("/telephony/telnyx/status", body, {})
    assert response.status == 403


async def test_a_number_assigned_to_telnyx_through_the_api_answers_telnyx_only(
    telnyx_gateway: Gateway,
) -> None:
    body = {"number": "+445550007777", "assistant_id": 1, "carrier": "telnyx"}
    response = await telnyx_gateway.request("POST", "/api/v1/admin/numbers", json=body)
    assert response.status == 201, await response.text()
    assert (await response.json())["carrier"] == "telnyx"
    fake = FakeTelnyx(telnyx_gateway)
    assert (await fake.voice(fake.call_fields(To="+445550007777"))).status == 200
    twilio = FakeTwilio(telnyx_gateway)
    assert (await twilio.voice(twilio.call_fields(To="+445550007777"))).status == 403
