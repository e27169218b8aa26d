"""What every carrier's outbound-call suite shares: a number routed to the scripted assistant,
and a line that posts ``/api/v1/calls`` from it and reads the calls back. Each suite adds only
its carrier's side (its fake REST API and how it drives a call)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import PUBLIC_URL
from tests.gateway.telephony.outbound_fixtures import CALLEE


class CarrierFake(Protocol):
    """A carrier's fake REST API: served on loopback, calling the gateway back."""

    url: str
    gateway_url: str

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


async def gateway_with(
    fake: CarrierFake, tmp_path: Path, settings: Callable[[str], dict[str, Any]]
) -> AsyncIterator[Gateway]:
    """A gateway (real clock, ``PUBLIC_URL``) configured by ``settings(fake.url)``, with
    ``fake`` serving and pointed back at it; the fake stops with the gateway."""
    await fake.start()
    try:
        async for gateway in start_gateway(
            tmp_path, SystemClock(), public_url=PUBLIC_URL, **settings(fake.url)
        ):
            fake.gateway_url = gateway.url
            yield gateway
    finally:
        await fake.aclose()


async def route_number(gateway: Gateway, number: str, carrier: str) -> int:
    """``number`` routed on ``carrier`` to a new assistant on the scripted provider; its id."""
    assistant_id = await gateway.use_scripted_assistant()
    await gateway.ctx.store.numbers.create(
        {"number": number, "assistant_id": assistant_id, "carrier": carrier}, gateway.clock.now()
    )
    return assistant_id


class OutboundLine:
    """Calls placed from one routed number, through the public API."""

    def __init__(self, gateway: Gateway, number: str, assistant_id: int) -> None:
        self.gateway, self.number, self.assistant_id = gateway, number, assistant_id

    async def post_call(self, **body: Any) -> aiohttp.ClientResponse:
        body = {"assistant_id": self.assistant_id, "to": CALLEE, "from": self.number, **body}
        return await self.gateway.request("POST", "/api/v1/calls", json=body)

    async def create(self, **body: Any) -> dict[str, Any]:
        """``POST /api/v1/calls``, which must succeed: the call as created."""
        response = await self.post_call(**body)
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created

    async def view(self, call_id: int) -> dict[str, Any]:
        response = await self.gateway.request("GET", f"/api/v1/calls/{call_id}")
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def hang_up(self, call_id: int) -> dict[str, Any]:
        response = await self.gateway.request("DELETE", f"/api/v1/calls/{call_id}")
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def slots(self) -> int:
        return await self.gateway.ctx.shared.slots.count("global")

    async def assert_refused(self, status: int, words: str, **body: Any) -> dict[str, Any]:
        """The request is refused with ``status`` and ``words`` in its error; no slot is kept."""
        response = await self.post_call(**body)
        text = await response.text()
        assert response.status == status and words in text, text
        assert await self.slots() == 0
        error: dict[str, Any] = (await response.json())["error"]
        return error

    async def assert_ended(self, call_id: int, status: str) -> None:
        """The call ended with ``status`` (its end reason the same word), its session ended
        with ``call_<status>``, its slot free."""
        view = await self.view(call_id)
        reason = status.replace("-", "_")
        assert (view["status"], view["end_reason"]) == (status, reason)
        session = await self.gateway.ctx.store.sessions.get(view["session_id"])
        assert session is not None and session.end_reason == "call_" + reason
        assert await self.slots() == 0
