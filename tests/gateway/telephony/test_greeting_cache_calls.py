"""The greeting cache on real calls: the first call's greeting, said word for word by the (fake)
OpenAI model, plays on the next call before that call's provider has even connected, and that
provider is told it was said instead of being asked to say it again; with a cache directory,
the next call after a restart too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_realtime import FakeRealtimeServer
from tests.fakes.openai_realtime_default import REPLY_AUDIO_MS
from tests.gateway.conftest import Gateway
from tests.gateway.telephony.conftest import FakeTwilio, openai_phone_gateway
from tests.gateway.telephony.test_media_stream import dial

NUMBER = "+15550004446"
GREETING = "Hello, Acme here. How can I help?"
GREETING_BYTES = REPLY_AUDIO_MS * 8  # the fake's reply, as 8 kHz µ-law


@pytest.fixture
async def line(tmp_path: Path, fake_openai: FakeRealtimeServer) -> AsyncIterator[FakeTwilio]:
    async for gw in openai_phone_gateway(tmp_path, fake_openai):
        await _route(gw)
        yield FakeTwilio(gw)


async def _route(gw: Gateway) -> None:
    if await gw.ctx.store.numbers.get_by_number(NUMBER) is not None:
        return  # a restarted gateway on the same database
    row = await gw.ctx.store.assistants.create(
        {"name": "Greeter", "provider": "openai", "greeting": GREETING}, gw.clock.now()
    )
    await gw.ctx.store.numbers.create(
        {"number": NUMBER, "assistant_id": row.id, "carrier": "twilio"}, gw.clock.now()
    )


async def test_the_second_call_hears_the_greeting_before_its_provider_connects(
    line: FakeTwilio, fake_openai: FakeRealtimeServer
) -> None:
    first = await dial(line, NUMBER)
    await first.wait_for_audio(GREETING_BYTES)
    await first.stop()
    await first.wait_closed()
    await first.aclose()
    first_conn = fake_openai.connections[0]
    greeted = [e for e in first_conn.received if e["type"] == "response.create"]
    assert GREETING in greeted[0]["response"]["instructions"]

    fake_openai.connect_delay_s = 1.0  # a slow provider: the greeting must not wait for it
    second = await dial(line, NUMBER)
    await second.wait_for_audio(GREETING_BYTES)
    assert len(fake_openai.connections) == 1  # heard before the second call's provider is up
    await fake_openai.wait_for_connections(2)
    await second.stop()  # once the call is over, everything its provider was sent is recorded
    await second.wait_closed()
    await second.aclose()
    conn = fake_openai.connections[1]
    said = [e["item"] for e in conn.received if e["type"] == "conversation.item.create"]
    assert said[0]["role"] == "assistant"
    assert said[0]["content"][0]["text"] == GREETING  # it knows the greeting was said ...
    assert "response.create" not in conn.received_types()  # ... and does not say it again


async def test_after_a_restart_the_first_call_hears_the_greeting_before_its_provider(
    tmp_path: Path, fake_openai: FakeRealtimeServer
) -> None:
    greetings = tmp_path / "greetings"
    async for gw in openai_phone_gateway(tmp_path, fake_openai, greeting_cache_dir=greetings):
        await _route(gw)
        first = await dial(FakeTwilio(gw), NUMBER)
        await first.wait_for_audio(GREETING_BYTES)
        await first.stop()
        await first.wait_closed()
        await first.aclose()
    assert len(list(greetings.glob("*.greeting"))) == 1  # written by the time it stopped

    fake_openai.connect_delay_s = 0.3  # the greeting must not wait for the provider
    async for gw in openai_phone_gateway(tmp_path, fake_openai, greeting_cache_dir=greetings):
        await _route(gw)
        second = await dial(FakeTwilio(gw), NUMBER)
        await second.wait_for_audio(GREETING_BYTES)
        assert len(fake_openai.connections) == 1  # heard before its provider is up
        await fake_openai.wait_for_connections(2)
        await second.stop()
        await second.wait_closed()
        await second.aclose()
    said = [e["type"] for e in fake_openai.connections[1].received]
    assert "response.create" not in said  # told the greeting was said, not asked again
