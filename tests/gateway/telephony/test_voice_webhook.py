"""The voice webhook: signatures, routing, sessions, idempotency and the TwiML it answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from gateway.store.keys import hash_secret
from gateway.store.sessions import SessionFilter
from gateway.telephony.calls import CallAnswer, InboundCall
from gateway.telephony.service import TELEPHONY
from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    CALLER,
    NUMBER,
    PUBLIC_URL,
    FakeTwilio,
    stream_parameters,
    twiml_of,
)

VOICE = "/telephony/twilio/voice"


async def _session_count(gateway: Gateway) -> int:
    _, total = await gateway.ctx.store.sessions.search(SessionFilter(), limit=1, offset=0)
    return total


def _flip_first(signature: str) -> str:
    return ("B" if signature[0] == "A" else "A") + signature[1:]


async def test_valid_call_gets_a_phone_session_and_a_stream(twilio: FakeTwilio) -> None:
    fields = twilio.call_fields()
    document = await twiml_of(await twilio.voice(fields))
    connect = document.find("Connect")
    stream = document.find("./Connect/Stream")
    assert connect is not None
    assert stream is not None
    assert connect.attrib["action"] == PUBLIC_URL + "/telephony/twilio/action"
    assert stream.attrib["url"] == "wss://gw.example.com/telephony/twilio/media"
    assert "?" not in stream.attrib["url"]
    params = stream_parameters(document)
    assert set(params) == {"session_id", "token"}
    response = await twilio.gateway.request("GET", f"/api/v1/sessions/{params['session_id']}")
    view = await response.json()
    assert (view["channel"], view["status"], view["phone_number"]) == ("phone", "pending", CALLER)
    assert view["contact_id"] is not None
    assert view["metadata"] == {
        "carrier": "twilio",
        "call_sid": fields["CallSid"],
        "to": NUMBER,
        "direction": "inbound",
        "caller_withheld": False,
    }
    call = await twilio.gateway.ctx.store.calls.get_by_sid(fields["CallSid"])
    assert call is not None
    assert call.media_token_hash == hash_secret(params["token"])  # only the hash is stored


async def test_forged_requests_are_403_before_any_work(twilio: FakeTwilio) -> None:
    fields = twilio.call_fields()
    tampered = dict(fields, From="+15550009999")
    cases = [
        (tampered, {"signature": twilio.sign(VOICE, fields)}),
        (fields, {"signature": None}),
        (fields, {"signature": ""}),
        (fields, {"signature": twilio.sign(VOICE, fields, base="http://gw.example.com")}),
        (fields, {"signature": twilio.sign(VOICE, fields, base=twilio.gateway.url)}),
        (fields, {"signature": _flip_first(twilio.sign(VOICE, fields))}),
        (fields, {"signature": FakeTwilio(twilio.gateway, token="wrong").sign(VOICE, fields)}),
        (fields, {"signature": "x" * 200}),
    ]
    for params, kwargs in cases:
        response = await twilio.voice(params, **kwargs)
        assert response.status == 403, kwargs
    # Forwarded headers are spoofable, so they never change the URL we verify against.
    spoofed = await twilio.voice(
        fields,
        signature=twilio.sign(VOICE, fields, base=twilio.gateway.url),
        headers={"X-Forwarded-Proto": "http", "X-Forwarded-Host": "gw.example.com"},
    )
    assert spoofed.status == 403
    assert await _session_count(twilio.gateway) == 0


async def test_default_port_in_the_signed_url_is_accepted(twilio: FakeTwilio) -> None:
    fields = twilio.call_fields()
    signature = twilio.sign(VOICE, fields, base="https://gw.example.com:443")
    document = await twiml_of(await twilio.voice(fields, signature=signature))
    assert stream_parameters(document)["session_id"]


async def test_replayed_and_retried_webhooks_make_one_session(twilio: FakeTwilio) -> None:
    fields = twilio.call_fields()
    answers = [await (await twilio.voice(fields)).text() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]  # byte-identical TwiML, same token
    concurrent = twilio.call_fields()
    responses = await asyncio.gather(*(twilio.voice(concurrent) for _ in range(5)))
    texts = {await r.text() for r in responses}
    assert len(texts) == 1
    assert await _session_count(twilio.gateway) == 2


async def test_retry_after_the_stream_ran_says_goodbye(twilio: FakeTwilio) -> None:
    fields = twilio.call_fields()
    params = stream_parameters(await twiml_of(await twilio.voice(fields)))
    await twilio.gateway.ctx.sessions.end(params["session_id"], "client_stop")
    document = await twiml_of(await twilio.voice(fields))
    assert [child.tag for child in document] == ["Say", "Hangup"]
    assert await _session_count(twilio.gateway) == 1


async def test_unknown_and_disabled_numbers_hear_a_polite_goodbye(twilio: FakeTwilio) -> None:
    store, now = twilio.gateway.ctx.store, twilio.gateway.clock.now()
    disabled = await store.numbers.create(
        {"number": "+15550003333", "assistant_id": 1, "carrier": "twilio", "enabled": False}, now
    )
    assert disabled is not None
    deleted_assistant = await store.assistants.create({"name": "gone"}, now)
    await store.numbers.create(
        {"number": "+15550004444", "assistant_id": deleted_assistant.id, "carrier": "twilio"}, now
    )
    await store.assistants.delete(deleted_assistant.id, now)
    for to in ("+15550009999", "+15550003333", "+15550004444", "client:desk", ""):
        document = await twiml_of(await twilio.voice(twilio.call_fields(To=to)))
        assert [child.tag for child in document] == ["Say", "Hangup"], to
        assert "not in service" in (document.find("Say").text or "")  # type: ignore[union-attr]
    assert await _session_count(twilio.gateway) == 0


async def test_withheld_caller_ids_get_a_session_without_a_contact(twilio: FakeTwilio) -> None:
    withheld = ["anonymous", "+266696687", "Restricted", "", "client:alice",
                "sip:alice@example.com", "+7378742833", "12345"]  # fmt: skip
    for caller in withheld:
        document = await twiml_of(await twilio.voice(twilio.call_fields(From=caller)))
        session_id = stream_parameters(document)["session_id"]
        row = await twilio.gateway.ctx.store.sessions.get(session_id)
        assert row is not None
        assert (row.phone_number, row.contact_id, row.channel) == (None, None, "phone"), caller
        assert row.meta["caller_withheld"] is True
    contacts, total = await twilio.gateway.ctx.store.contacts.search(
        phone_number=None, limit=10, offset=0
    )
    assert (contacts, total) == ([], 0)


async def test_returning_callers_share_one_contact(twilio: FakeTwilio) -> None:
    ids = []
    for _ in range(2):
        document = await twiml_of(await twilio.voice(twilio.call_fields(From="+1 555 000 1111")))
        ids.append(stream_parameters(document)["session_id"])
    rows = [await twilio.gateway.ctx.store.sessions.get(i) for i in ids]
    assert rows[0] is not None
    assert rows[1] is not None
    assert rows[0].contact_id == rows[1].contact_id is not None
    contact = await twilio.gateway.ctx.store.contacts.get(rows[0].contact_id)
    assert contact is not None
    assert (contact.phone_number, contact.session_count) == (CALLER, 2)


async def test_malformed_call_sid_is_400(twilio: FakeTwilio) -> None:
    for sid in ("", "CA123", "XX" + "0" * 32):
        response = await twilio.voice(twilio.call_fields(CallSid=sid))
        assert response.status == 400, sid


async def test_media_token_is_single_use_and_bound_to_its_call(twilio: FakeTwilio) -> None:
    fields = twilio.call_fields()
    params = stream_parameters(await twiml_of(await twilio.voice(fields)))
    calls = twilio.gateway.server.app[TELEPHONY].calls
    sid, session_id, token = fields["CallSid"], params["session_id"], params["token"]
    assert await calls.redeem_media_token(sid, session_id, token + "x") is None
    assert await calls.redeem_media_token("CA" + "f" * 32, session_id, token) is None
    assert await calls.redeem_media_token(sid, "another-session", token) is None
    assert await calls.redeem_media_token(sid, session_id, "not-a-token") is None
    session = await calls.redeem_media_token(sid, session_id, token)
    assert session is not None
    assert session.id == session_id
    assert await calls.redeem_media_token(sid, session_id, token) is None  # used up
    found = await calls.session_for_call(sid)
    assert found is not None
    assert found.id == session_id
    assert await calls.session_for_call("CA" + "e" * 32) is None


async def test_webhooks_without_an_auth_token_are_503(gateway: Gateway) -> None:
    twilio = FakeTwilio(gateway)
    for path in ("/telephony/twilio/voice", "/telephony/twilio/status",
                 "/telephony/twilio/action"):  # fmt: skip
        response = await twilio.post(path, twilio.call_fields())
        assert response.status == 503, path


async def test_oversized_webhook_bodies_are_413(twilio: FakeTwilio) -> None:
    fields = twilio.call_fields(Padding="x" * (2 * 1024 * 1024))
    response = await twilio.voice(fields, signature=twilio.sign(VOICE, fields))
    assert response.status == 413
    assert await _session_count(twilio.gateway) == 0


async def test_non_form_bodies_are_refused(twilio: FakeTwilio) -> None:
    response = await twilio.gateway.http.post(
        twilio.gateway.url + VOICE,
        json=twilio.call_fields(),
        headers={"X-Twilio-Signature": "abc"},
    )
    assert response.status == 403
    get = await twilio.gateway.http.get(twilio.gateway.url + VOICE)
    assert get.status == 405
    assert isinstance(get, aiohttp.ClientResponse)


@pytest.fixture
async def hurried_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in start_gateway(
        tmp_path,
        SystemClock(),
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        public_url=PUBLIC_URL,
        webhook_answer_deadline_s=0.2,
    ):
        yield gw


async def test_a_stalled_answer_apologises_within_the_deadline(hurried_gateway: Gateway) -> None:
    stalled = asyncio.Event()

    async def stall(call: InboundCall) -> CallAnswer:
        stalled.set()
        await asyncio.sleep(30)
        raise AssertionError("the deadline should have cancelled this")

    hurried_gateway.server.app[TELEPHONY].calls.answer = stall  # type: ignore[method-assign]
    twilio = FakeTwilio(hurried_gateway)
    started = time.monotonic()
    document = await twiml_of(await twilio.voice(twilio.call_fields()))
    assert time.monotonic() - started < 2
    assert stalled.is_set()
    assert [child.tag for child in document] == ["Say", "Hangup"]
    assert "cannot take your call" in (document.find("Say").text or "")  # type: ignore[union-attr]
