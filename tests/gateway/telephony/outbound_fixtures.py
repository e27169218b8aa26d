"""A gateway that places calls through the fake Twilio REST API, and helpers to drive them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from kinds.clock import Clock
from tests.fakes.twilio_media import FakeMediaStream
from tests.fakes.twilio_rest import FakeTwilioRest, PlacedCall
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import AUTH_TOKEN, NUMBER, PUBLIC_URL, stream_parameters

ACCOUNT_SID = "AC" + "0" * 31 + "1"
CALLEE = "+14155550100"


@dataclass
class Outbound:
    gateway: Gateway
    carrier: FakeTwilioRest

    async def post_call(self, **body: Any) -> aiohttp.ClientResponse:
        headers = body.pop("headers", {})
        body.setdefault("assistant_id", 1)
        body.setdefault("to", CALLEE)
        body.setdefault("from", NUMBER)
        return await self.gateway.request("POST", "/api/v1/calls", json=body, headers=headers)

    async def place(self, **body: Any) -> tuple[dict[str, Any], PlacedCall]:
        response = await self.post_call(**body)
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created, self.carrier.calls[-1]

    async def get(self, call_id: int) -> dict[str, Any]:
        response = await self.gateway.request("GET", f"/api/v1/calls/{call_id}")
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def open_stream(self, call: PlacedCall) -> FakeMediaStream:
        document = await self.carrier.answer(call)
        stream = document.find("./Connect/Stream")
        assert stream is not None
        return await FakeMediaStream.open(
            self.gateway.http, self.gateway.url, stream.attrib["url"], auth_token=AUTH_TOKEN,
            call_sid=call.sid, parameters=stream_parameters(document),
        )  # fmt: skip


async def until(predicate: Callable[[], object], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def outbound_gateway(
    tmp_path: Path, clock: Clock, **settings: Any
) -> AsyncIterator[Outbound]:
    async with aiohttp.ClientSession() as http:
        carrier = FakeTwilioRest(AUTH_TOKEN, "", http)
        await carrier.start()
        try:
            async for gw in start_gateway(
                tmp_path, clock, twilio_auth_token=SecretStr(AUTH_TOKEN),
                twilio_account_sid=ACCOUNT_SID, twilio_api_base_url=carrier.url,
                public_url=PUBLIC_URL, **settings,
            ):  # fmt: skip
                carrier.gateway_url = gw.url
                await gw.ctx.store.numbers.create(
                    {"number": NUMBER, "assistant_id": 1, "carrier": "twilio"}, gw.clock.now()
                )
                yield Outbound(gw, carrier)
        finally:
            await carrier.aclose()
