"""Vonage's answer and event webhooks: HS256 JWTs (made with PyJWT here), GET and POST answers,
the NCCO, routing by the number's carrier, 503 without credentials, and call events."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import orjson
import pytest
from pydantic import SecretStr, ValidationError

from config import Settings
from gateway.store.keys import hash_secret
from gateway.store.sessions import SessionFilter
from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import NUMBER
from tests.gateway.telephony.vonage.conftest import (
    SIGNATURE_SECRET,
    VONAGE_CALLER,
    VONAGE_NUMBER,
    FakeVonage,
    new_call_uuid,
    signed_jwt,
)

VOICE = "/telephony/vonage/voice"


async def _session_count(gateway: Gateway) -> int:
    _, total = await gateway.ctx.store.sessions.search(SessionFilter(), limit=1, offset=0)
    return total


async def test_a_get_answer_gets_a_session_and_a_websocket_connect(vonage: FakeVonage) -> None:
    fields = vonage.call_fields()
    ncco = await vonage.ncco(await vonage.answer_get(fields))
    (connect,) = ncco
    assert connect["action"] == "connect"
    assert connect["eventUrl"] == ["https://gw.example.com/telephony/vonage/status"]
    (endpoint,) = connect["endpoint"]
    assert endpoint["type"] == "websocket"
    assert endpoint["uri"] == "wss://gw.example.com/telephony/vonage/media"
    # The local demo takes µ-law: 8 kHz L16, carried as µ-law from the edge on.
    assert endpoint["content-type"] == "audio/l16;rate=8000"
    headers = endpoint["headers"]
    assert set(headers) == {"session_id", "token", "call_uuid"}
    assert headers["call_uuid"] == fields["uuid"]
    assert len(orjson.dumps(headers)) <= 512  # Vonage's limit on endpoint headers
    view = await (
        await vonage.gateway.request("GET", f"/api/v1/sessions/{headers['session_id']}")
    ).json()
    assert (view["channel"], view["status"], view["phone_number"]) == (
        "phone", "pending", VONAGE_CALLER)  # fmt: skip
    assert view["metadata"]["carrier"] == "vonage"
    call = await vonage.gateway.ctx.store.calls.get_by_sid(fields["uuid"])
    assert call is not None and call.carrier == "vonage"
    assert call.media_token_hash == hash_secret(headers["token"])


async def test_a_get_answer_signed_over_its_query_is_answered(vonage: FakeVonage) -> None:
    """Vonage hashes a GET's query parameters as a compact JSON object (its support article on
    verifying Voice API webhooks); a token over other values is a forgery."""
    fields = vonage.call_fields()
    document = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
    ncco = await vonage.ncco(await vonage.answer_get(fields, token=signed_jwt(document)))
    assert ncco[0]["action"] == "connect"
    other = json.dumps({**fields, "from": "447700900999"}, separators=(",", ":")).encode()
    refused = await vonage.answer_get(fields, token=signed_jwt(other))
    assert refused.status == 403


async def test_a_post_answer_is_the_same_call(vonage: FakeVonage) -> None:
    fields = vonage.call_fields()
    by_post = await vonage.ncco(await vonage.answer_post(fields))
    again = await vonage.ncco(await vonage.answer_get(fields))  # a retry, the other way
    assert by_post == again
    assert await _session_count(vonage.gateway) == 1


async def test_forgeries_are_403_before_any_work(vonage: FakeVonage) -> None:
    fields = vonage.call_fields()
    body = orjson.dumps(fields)
    now = time.time()
    cases = [
        signed_jwt(
            body, secret="another-account-signature-secret-0123"
        ),  # forged: the wrong secret
        signed_jwt(body, iat=now - 301),  # stale
        signed_jwt(body, iat=now + 301),  # from the future
        signed_jwt(body, exp=int(now) - 1),  # expired
        signed_jwt(body + b" "),  # payload hash of another body
        signed_jwt(body, payload_hash="0" * 64),
        signed_jwt(body, application_id="another-application"),
        signed_jwt(body, jti=""),
        jwt.encode({"iat": int(now), "jti": "x", "payload_hash": "-"}, None, algorithm="none"),
        "not.a.jwt",
        "",
    ]
    for token in cases:
        response = await vonage.answer_post(fields, token=token)
        assert response.status == 403, token
    assert (await vonage.answer_post(fields, token=None)).status == 403  # unsigned
    assert (await vonage.answer_get(fields, token=signed_jwt(b"", iat=now - 400))).status == 403
    assert await _session_count(vonage.gateway) == 0


async def test_a_replayed_token_is_refused(vonage: FakeVonage) -> None:
    fields = vonage.call_fields()
    token = signed_jwt(orjson.dumps(fields))
    assert (await vonage.answer_post(fields, token=token)).status == 200
    assert (await vonage.answer_post(fields, token=token)).status == 403
    get_token = signed_jwt(b"")
    other = vonage.call_fields()
    assert (await vonage.answer_get(other, token=get_token)).status == 200
    assert (await vonage.answer_get(vonage.call_fields(), token=get_token)).status == 403
    assert await _session_count(vonage.gateway) == 2


async def test_an_unassigned_number_is_told_so(vonage: FakeVonage) -> None:
    ncco = await vonage.ncco(await vonage.answer_get(vonage.call_fields(to="447700900999")))
    assert [action["action"] for action in ncco] == ["talk"]
    assert await _session_count(vonage.gateway) == 0


async def test_a_number_of_another_carrier_is_refused(vonage: FakeVonage) -> None:
    gw = vonage.gateway
    await gw.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": 1, "carrier": "twilio"}, gw.clock.now()
    )
    fields = vonage.call_fields(to=NUMBER.removeprefix("+"))
    assert (await vonage.answer_get(fields)).status == 403
    assert await _session_count(gw) == 0


async def test_bad_fields_are_400(vonage: FakeVonage) -> None:
    assert (await vonage.answer_get(vonage.call_fields(uuid="../x"))).status == 400
    assert (await vonage.answer_post({"to": "1"})).status == 400
    response = await vonage.gateway.http.post(
        vonage.gateway.url + VOICE,
        data=b"[1]",
        headers={"Authorization": "Bearer " + signed_jwt(b"[1]"),
                 "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status == 400


async def test_events_end_the_session_once_the_call_completes(vonage: FakeVonage) -> None:
    fields = vonage.call_fields()
    ncco = await vonage.ncco(await vonage.answer_get(fields))
    session_id = ncco[0]["endpoint"][0]["headers"]["session_id"]
    for status in ("started", "ringing", "answered", "completed", "answered"):
        event = {"uuid": fields["uuid"], "status": status, "direction": "inbound",
                 "timestamp": "2026-12-03T12:00:00.000Z", "duration": "12"}  # fmt: skip
        assert (await vonage.event(event)).status == 204
    assert (await vonage.event({"uuid": new_call_uuid(), "status": "completed"})).status == 204
    transfer = {"conversation_uuid_from": "CON-1", "conversation_uuid_to": "CON-2"}
    assert (await vonage.event(transfer)).status == 204  # names no leg: acknowledged only
    call = await vonage.gateway.ctx.store.calls.get_by_sid(fields["uuid"])
    assert call is not None and call.status == "completed"
    view = await (await vonage.gateway.request("GET", f"/api/v1/sessions/{session_id}")).json()
    assert view["status"] == "ended" and view["end_reason"] == "call_completed"
    forged = signed_jwt(b"{}", secret="not-the-signature-secret-of-this-account")
    assert (await vonage.event({"uuid": fields["uuid"]}, token=forged)).status == 403


async def test_without_a_signature_secret_vonage_answers_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async for gw in start_gateway(tmp_path, SystemClock()):
        fake = FakeVonage(gw)
        assert (await fake.answer_get(fake.call_fields())).status == 503
        assert "KURA_VONAGE_SIGNATURE_SECRET is not set" in caplog.text
        assert (await fake.event({"uuid": new_call_uuid(), "status": "ringing"})).status == 503
        ws_status = await gw.http.get(gw.url + "/telephony/vonage/media")
        assert ws_status.status == 503


async def test_a_configured_rate_overrides_the_choice(tmp_path: Path) -> None:
    async for gw in start_gateway(
        tmp_path,
        SystemClock(),
        vonage_signature_secret=SecretStr(SIGNATURE_SECRET),
        vonage_audio_rate="16000",
        public_url="https://gw.example.com",
    ):
        await gw.ctx.store.numbers.create(
            {"number": VONAGE_NUMBER, "assistant_id": 1, "carrier": "vonage"}, gw.clock.now()
        )
        fake = FakeVonage(gw)
        ncco = await fake.ncco(await fake.answer_get(fake.call_fields()))
        assert ncco[0]["endpoint"][0]["content-type"] == "audio/l16;rate=16000"


def test_a_missing_private_key_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        Settings(_env_file=None, vonage_private_key_path=tmp_path / "absent.key")  # type: ignore[call-arg]
