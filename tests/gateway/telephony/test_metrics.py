"""/metrics: Prometheus text with the call and session figures, for loopback or a token."""

from __future__ import annotations

import asyncio

from tests.gateway.telephony.conftest import FakeTwilio
from tests.gateway.telephony.test_media_stream import dial


async def test_metrics_show_calls_frames_sessions_and_webhooks(twilio: FakeTwilio) -> None:
    gw = twilio.gateway
    stream = await dial(twilio)
    await stream.send_ulaw(b"\xff" * 160 * 5)
    for _ in range(200):
        text = await (await gw.request("GET", "/metrics", key=None)).text()
        if 'kura_sessions_active{channel="phone",provider="local"} 1.0' in text:
            break
        await asyncio.sleep(0.01)
    for name in (
        'kura_media_frames_total{direction="inbound"}',
        "kura_media_frame_delay_seconds_bucket",
        'kura_webhook_latency_seconds_count{webhook="voice"}',
        "kura_calls_active",
        'kura_sessions_active{channel="phone",provider="local"} 1.0',
    ):
        assert name in text, name
    await stream.aclose()


async def test_metrics_need_the_token_when_one_is_set(twilio: FakeTwilio) -> None:
    from pydantic import SecretStr

    gw = twilio.gateway
    gw.ctx.settings.metrics_token = SecretStr("scrape-me")
    assert (await gw.request("GET", "/metrics", key=None)).status == 403
    ok = await gw.request(
        "GET", "/metrics", key=None, headers={"Authorization": "Bearer scrape-me"}
    )
    assert ok.status == 200
