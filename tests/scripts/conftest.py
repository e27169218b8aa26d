"""Fixtures for the call-simulator tests: a fake gateway on loopback, a call runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp

from scripts.twilio_sim.call import CallConfig, CallResult, run_call
from scripts.twilio_sim.media_session import InboundPlan
from scripts.twilio_sim.webhook import CallIdentity
from tests.scripts.fake_gateway import AUTH_TOKEN, FakeGateway

SPEED = 20.0  # 20× real time: a 4 s call takes 0.2 s

CallRunner = Callable[..., Awaitable[CallResult]]


async def call(
    gateway: FakeGateway,
    plan: InboundPlan,
    *,
    auth_token: str = AUTH_TOKEN,
    record_max_s: float | None = None,
    speed: float = SPEED,
) -> CallResult:
    """One simulated call to ``gateway``, as simulate_call.py places it."""
    config = CallConfig(
        gateway_url=gateway.url,
        auth_token=auth_token,
        from_number="+15550001111",
        to_number="+15550002222",
        speed=speed,
        record_max_s=record_max_s,
    )
    result = CallResult(CallIdentity.new(config.from_number, config.to_number))
    async with aiohttp.ClientSession() as http:
        return await run_call(http, config, plan, result)
