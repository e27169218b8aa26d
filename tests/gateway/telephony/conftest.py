"""A gateway with Twilio configured, and a fake Twilio that signs its webhooks."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import aiohttp
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from kinds.clock import SystemClock
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
