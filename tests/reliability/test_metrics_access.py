"""``/metrics`` access: with a token set it is required from every address (loopback too, as
all traffic is behind a same-host proxy); with none, only a direct loopback client is served."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.gateway.conftest import Gateway

PROXIED = [
    {"X-Forwarded-For": "203.0.113.9"},
    {"Forwarded": "for=203.0.113.9"},
    {"X-Real-IP": "203.0.113.9"},
    {"Via": "1.1 proxy"},
]


async def test_with_a_token_loopback_gets_nothing_without_it(gateway: Gateway) -> None:
    gateway.ctx.settings.metrics_token = SecretStr("scrape-me")
    for headers in [{}, {"Authorization": "Bearer wrong"}, *PROXIED]:
        response = await gateway.request("GET", "/metrics", key=None, headers=headers)
        assert response.status == 403, headers
    ok = await gateway.request(
        "GET", "/metrics", key=None, headers={"Authorization": "Bearer scrape-me"}
    )
    assert ok.status == 200


@pytest.mark.parametrize("headers", PROXIED)
async def test_without_a_token_proxied_requests_are_refused(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    assert gateway.ctx.settings.metrics_token is None
    response = await gateway.request("GET", "/metrics", key=None, headers=headers)
    assert response.status == 403


async def test_without_a_token_a_direct_loopback_client_is_served(gateway: Gateway) -> None:
    response = await gateway.request("GET", "/metrics", key=None)
    assert response.status == 200
    assert "kura_sessions_active" in await response.text()
