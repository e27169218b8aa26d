"""A fake Vonage for the gateway's tests: signed answer/event webhooks (JWTs made with PyJWT,
never the gateway's code) and a loopback Voice REST API that checks the application's JWT."""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt
import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from kinds.clock import SystemClock
from tests.fakes.vonage_media import FakeVonageStream
from tests.gateway.conftest import Gateway, free_port, start_gateway
from tests.gateway.telephony.conftest import AUTH_TOKEN, PUBLIC_URL

SIGNATURE_SECRET = "vonage-signature-secret-for-tests"
APPLICATION_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
VONAGE_NUMBER = "+447700900000"
VONAGE_CALLER = "+447700900111"
_uuids = itertools.count(1)


def new_call_uuid() -> str:
    return str(uuid.UUID(int=next(_uuids) + (7 << 100)))


def signed_jwt(
    body: bytes,
    *,
    secret: str = SIGNATURE_SECRET,
    iat: float | None = None,
    jti: str | None = None,
    **claims: Any,
) -> str:
    """What Vonage puts in ``Authorization: Bearer``: HS256 over the claims it documents."""
    payload = {
        "iat": int(time.time() if iat is None else iat),
        "jti": str(uuid.uuid4()) if jti is None else jti,
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "abcd1234",
        "application_id": APPLICATION_ID,
    } | claims
    return jwt.encode(payload, secret, algorithm="HS256")


@dataclass
class FakeVonage:
    """Sends Vonage's webhooks: the answer as GET (query) or POST (JSON), events as JSON."""

    gateway: Gateway

    def call_fields(self, call_uuid: str | None = None, **fields: str) -> dict[str, str]:
        base = {
            "from": VONAGE_CALLER.removeprefix("+"),
            "to": VONAGE_NUMBER.removeprefix("+"),
            "uuid": call_uuid or new_call_uuid(),
            "conversation_uuid": "CON-" + str(uuid.uuid4()),
        }
        return base | fields

    async def answer_get(
        self,
        fields: Mapping[str, str],
        *,
        token: str | None = "auto",  # noqa: S107
    ) -> aiohttp.ClientResponse:
        headers = {} if token is None else {"Authorization": "Bearer " + (
            signed_jwt(b"") if token == "auto" else token)}  # fmt: skip
        url = f"{self.gateway.url}/telephony/vonage/voice?{urlencode(fields)}"
        return await self.gateway.http.get(url, headers=headers)

    async def post_json(
        self,
        path: str,
        data: Mapping[str, Any],
        *,
        token: str | None = "auto",  # noqa: S107
    ) -> aiohttp.ClientResponse:
        body = orjson.dumps(dict(data))
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = "Bearer " + (signed_jwt(body) if token == "auto" else token)
        return await self.gateway.http.post(self.gateway.url + path, data=body, headers=headers)

    async def answer_post(self, fields: Mapping[str, str], **kw: Any) -> aiohttp.ClientResponse:
        return await self.post_json("/telephony/vonage/voice", fields, **kw)

    async def event(self, data: Mapping[str, Any], **kw: Any) -> aiohttp.ClientResponse:
        return await self.post_json("/telephony/vonage/status", data, **kw)

    async def ncco(self, response: aiohttp.ClientResponse) -> list[dict[str, Any]]:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        ncco: list[dict[str, Any]] = await response.json()
        return ncco

    async def dial(self, number: str = VONAGE_NUMBER) -> FakeVonageStream:
        """A call to ``number``: the answer webhook, then its websocket."""
        fields = self.call_fields(to=number.removeprefix("+"))
        ncco = await self.ncco(await self.answer_get(fields))
        (endpoint,) = ncco[0]["endpoint"]
        return await FakeVonageStream.dial(self.gateway.http, self.gateway.url, endpoint)


@dataclass
class FakeVoiceApi:
    """Vonage's Voice REST API on loopback: ``PUT /v1/calls/{uuid}`` with an RS256 bearer."""

    public_key: Any
    url: str = ""
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0
    failing_actions: set[str] = field(default_factory=set)
    """Actions answered 400 (as Vonage does for a transfer it cannot make)."""
    created: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """``(uuid, body)`` of each ``POST /v1/calls``."""
    fail_create: int | None = None

    def _authorised(self, request: web.Request) -> bool:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"])
        except jwt.InvalidTokenError:
            self.refused += 1
            return False
        assert claims["application_id"] == APPLICATION_ID and claims["jti"]
        return True

    async def create(self, request: web.Request) -> web.Response:
        """``POST /v1/calls``: 201 with the new leg's uuid, as Vonage answers."""
        if not self._authorised(request):
            return web.json_response({"title": "Unauthorized"}, status=401)
        body = await request.json()
        if self.fail_create is not None:
            status, self.fail_create = self.fail_create, None
            return web.json_response(
                {"type": "https://developer.nexmo.com/api-errors#bad-request",
                 "title": "Bad Request", "invalid_parameters": [{"name": "to"}]}, status=status,
            )  # fmt: skip
        call_uuid = new_call_uuid()
        self.created.append((call_uuid, body))
        return web.json_response(
            {"uuid": call_uuid, "status": "started", "direction": "outbound",
             "conversation_uuid": "CON-" + str(uuid.uuid4())}, status=201,
        )  # fmt: skip

    async def modify(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"title": "Unauthorized"}, status=401)
        body = await request.json()
        self.updates.append((request.match_info["uuid"], body))
        if body.get("action") in self.failing_actions:
            return web.json_response({"title": "Bad Request"}, status=400)
        return web.Response(status=204)


@pytest.fixture
async def voice_api() -> AsyncIterator[tuple[FakeVoiceApi, bytes]]:
    """The fake REST API and the application's private key (PEM) it trusts."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    api = FakeVoiceApi(key.public_key())
    app = web.Application()
    app.router.add_put("/v1/calls/{uuid}", api.modify)
    app.router.add_post("/v1/calls", api.create)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    api.url = f"http://127.0.0.1:{port}"
    try:
        yield api, pem
    finally:
        await runner.cleanup()


@pytest.fixture
async def vonage_gateway(
    tmp_path: Path, voice_api: tuple[FakeVoiceApi, bytes]
) -> AsyncIterator[Gateway]:
    """A gateway on the real clock with Twilio and Vonage configured (REST API on loopback)."""
    api, pem = voice_api
    key_path = tmp_path / "vonage_private.key"
    key_path.write_bytes(pem)
    async for gw in start_gateway(
        tmp_path,
        SystemClock(),
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        vonage_signature_secret=SecretStr(SIGNATURE_SECRET),
        vonage_application_id=APPLICATION_ID,
        vonage_private_key_path=key_path,
        vonage_api_url=api.url,
        public_url=PUBLIC_URL,
    ):
        yield gw


@pytest.fixture
async def vonage(vonage_gateway: Gateway) -> FakeVonage:
    """The fake Vonage, with VONAGE_NUMBER routed (on Vonage) to the demo assistant."""
    await vonage_gateway.ctx.store.numbers.create(
        {"number": VONAGE_NUMBER, "assistant_id": 1, "carrier": "vonage"},
        vonage_gateway.clock.now(),
    )
    return FakeVonage(vonage_gateway)
