"""A gateway with Twilio configured, and a fake Twilio that signs its webhooks."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import aiohttp
import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from kinds.clock import SystemClock
from media import denoise
from providers.openai_realtime import OpenAIRealtimeProvider
from providers.registry import ProviderRegistry
from tests.fakes.openai_realtime import FakeRealtimeServer
from tests.gateway.conftest import Gateway, start_gateway

AUTH_TOKEN = "test_auth_token"
PUBLIC_URL = "https://gw.example.com"
NUMBER = "+15550002222"
CALLER = "+15550001111"
_sids = itertools.count(1)


def new_call_sid() -> str:
    return f"CA{next(_sids):032x}"


@dataclass
class FakeTwilio:
    """Sends webhooks the way Twilio does: form-encoded, signed over the public URL."""

    gateway: Gateway
    public_url: str = PUBLIC_URL
    token: str = AUTH_TOKEN

    def sign(self, path: str, params: Mapping[str, str], *, base: str | None = None) -> str:
        url = (base or self.public_url) + path
        return str(RequestValidator(self.token).compute_signature(url, params))

    def call_fields(self, call_sid: str | None = None, **fields: str) -> dict[str, str]:
        base = {
            "AccountSid": "AC" + "0" * 31 + "1",
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid or new_call_sid(),
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": CALLER,
            "To": NUMBER,
        }
        base.update(fields)
        return base

    async def post(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        signature: str | None = "auto",
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        sent = dict(headers or {})
        if signature == "auto":
            signature = self.sign(path, params)
        if signature is not None:
            sent["X-Twilio-Signature"] = signature
        return await self.gateway.http.post(self.gateway.url + path, data=params, headers=sent)

    async def voice(self, params: Mapping[str, str], **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.post("/telephony/twilio/voice", params, **kwargs)

    async def status(self, params: Mapping[str, str], **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.post("/telephony/twilio/status", params, **kwargs)

    async def action(self, params: Mapping[str, str], **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.post("/telephony/twilio/action", params, **kwargs)


async def twiml_of(response: aiohttp.ClientResponse) -> ElementTree.Element:
    assert response.status == 200, await response.text()
    assert response.content_type == "text/xml"
    return ElementTree.fromstring(await response.text())  # noqa: S314 - our own answer


def stream_parameters(document: ElementTree.Element) -> dict[str, str]:
    stream = document.find("./Connect/Stream")
    assert stream is not None
    return {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}


@pytest.fixture
def plain_audio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls without the caller denoiser: for tests of the format path itself (passthrough,
    byte order, rates), which compare the caller's bytes exactly. The denoiser is tested in
    tests/media and through the bridge with it on."""
    monkeypatch.setattr(denoise, "AVAILABLE", False)


@pytest.fixture
async def phone_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway on the real clock with a Twilio auth token and a public URL."""
    async for gw in start_gateway(
        tmp_path,
        SystemClock(),
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        public_url=PUBLIC_URL,
    ):
        yield gw


@pytest.fixture
async def twilio(phone_gateway: Gateway) -> FakeTwilio:
    """The fake carrier, with NUMBER routed to the demo assistant."""
    await phone_gateway.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": 1, "carrier": "twilio"}, phone_gateway.clock.now()
    )
    return FakeTwilio(phone_gateway)


# --- Telnyx ------------------------------------------------------------------------------------

TELNYX_KEY = SigningKey.generate()  # the fake account's signing key; the gateway gets its half
TELNYX_PUBLIC_KEY = base64.b64encode(bytes(TELNYX_KEY.verify_key)).decode()
TELNYX_NUMBER = "+445550002222"


def new_telnyx_call_sid() -> str:
    return f"v3:{next(_sids):040x}"


@dataclass
class FakeTelnyx:
    """Sends TeXML webhooks the way Telnyx does: form-encoded, Ed25519-signed over
    ``timestamp|raw body`` with PyNaCl (never the gateway's own code)."""

    gateway: Gateway
    key: SigningKey = TELNYX_KEY

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + b"|" + body).signature
        return {
            "telnyx-timestamp": stamp,
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        }

    def call_fields(self, call_sid: str | None = None, **fields: str) -> dict[str, str]:
        base = {
            "AccountSid": "f5586561-8ff0-4291-a51b-c7dfe4139ff9",
            "CallSid": call_sid or new_telnyx_call_sid(),
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": CALLER,
            "To": TELNYX_NUMBER,
        }
        base.update(fields)
        return base

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        sent = dict(self.sign(body) if headers is None else headers)
        return await self.gateway.http.post(self.gateway.url + path, data=body, headers=sent)

    async def voice(self, fields: Mapping[str, str]) -> aiohttp.ClientResponse:
        return await self.post("/telephony/telnyx/voice", urlencode(fields).encode())

    async def status(self, fields: Mapping[str, str]) -> aiohttp.ClientResponse:
        return await self.post("/telephony/telnyx/status", urlencode(fields).encode())


@pytest.fixture
async def telnyx_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway on the real clock with Twilio and Telnyx configured."""
    async for gw in start_gateway(
        tmp_path,
        SystemClock(),
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        telnyx_public_key=TELNYX_PUBLIC_KEY,
        telnyx_api_key=SecretStr("KEY_test_telnyx"),
        public_url=PUBLIC_URL,
    ):
        yield gw


@pytest.fixture
async def telnyx(telnyx_gateway: Gateway) -> FakeTelnyx:
    """The fake Telnyx, with TELNYX_NUMBER routed to the demo assistant."""
    await telnyx_gateway.ctx.store.numbers.create(
        {"number": TELNYX_NUMBER, "assistant_id": 1, "carrier": "telnyx"},
        telnyx_gateway.clock.now(),
    )
    return FakeTelnyx(telnyx_gateway)


async def openai_phone_gateway(
    tmp_path: Path, server: FakeRealtimeServer, **settings: Any
) -> AsyncIterator[Gateway]:
    """A gateway taking Twilio calls, its ``openai`` provider pointed at ``server`` (and any
    other ``settings``)."""

    def register(registry: ProviderRegistry) -> None:
        registry.register(
            "openai", lambda: OpenAIRealtimeProvider("sk-test", server.url, clock=SystemClock())
        )

    async for gw in start_gateway(
        tmp_path,
        SystemClock(),
        register=register,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        public_url=PUBLIC_URL,
        **settings,
    ):
        yield gw
