"""Provider failover on a phone call (issue #20), through the real gateway and real sockets: an
assistant on OpenAI with ``fallback_provider: gemini``; the OpenAI fake fails at connect or
mid-call, the call goes on with the Gemini fake, seeded with the transcript so far, and the
switch is recorded on the session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.telephony.call_audio import cue_ulaw
from kinds.clock import SystemClock
from providers.gemini_live import GeminiLiveProvider
from providers.openai_realtime import OpenAIRealtimeProvider
from providers.registry import ProviderRegistry
from tests.fakes.gemini_live import FakeConnection as GeminiConnection
from tests.fakes.gemini_live import FakeGeminiLive, body
from tests.fakes.openai_realtime import FakeConnection, FakeRealtimeServer, free_port
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import AUTH_TOKEN, PUBLIC_URL, FakeTwilio
from tests.gateway.telephony.test_media_stream import dial, speech_ulaw
from tests.reliability.test_provider_faults_gemini import REPLY, alive_until, serving, speak

NUMBER = "+15550007777"
Script = Callable[[FakeConnection], Awaitable[None]]


async def until_asked(conn: GeminiConnection) -> list[dict[str, Any]]:
    """Every ``clientContent`` up to the one that asks for the model's turn."""
    seen: list[dict[str, Any]] = []
    while not seen or not seen[-1].get("turnComplete"):
        seen.append(body(await conn.receive("clientContent", timeout_s=10)))
    return seen


class Lines:
    """The two fakes and a gateway whose assistant falls back from one to the other."""

    def __init__(self, openai: FakeRealtimeServer, gemini: FakeGeminiLive) -> None:
        self.openai, self.gemini = openai, gemini
        self.openai_url = openai.url
        self.twilio: FakeTwilio | None = None
        self.gateway: Gateway | None = None
        self.asked: list[list[dict[str, Any]]] = []

    async def answer(self, conn: GeminiConnection) -> None:
        self.asked.append(await until_asked(conn))
        await speak(conn)
        await alive_until(conn, asyncio.Event())

    async def session_meta(self, stream: FakeMediaStream) -> dict[str, Any]:
        assert self.gateway is not None
        call = await self.gateway.ctx.store.calls.get_by_sid(stream.call_sid)
        assert call is not None
        session = await self.gateway.ctx.store.sessions.get(call.session_id)
        assert session is not None
        return dict(session.meta)


@pytest.fixture
async def lines(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Lines]]]:
    started: list[Any] = []

    async def start(*scripts: Script, refuse_openai: bool = False) -> Lines:
        openai = FakeRealtimeServer(list(scripts))
        await openai.start()
        gemini = FakeGeminiLive()
        await gemini.start()
        setup = Lines(openai, gemini)
        if refuse_openai:
            setup.openai_url = f"ws://127.0.0.1:{free_port()}/v1/realtime"

        def register(registry: ProviderRegistry) -> None:
            clock = SystemClock()
            registry.register(
                "openai", lambda: OpenAIRealtimeProvider("sk-test", setup.openai_url, clock=clock)
            )
            registry.register(
                "gemini", lambda: GeminiLiveProvider("gemini-key", gemini.url, clock=clock)
            )

        gateways = start_gateway(
            tmp_path,
            SystemClock(),
            register=register,
            twilio_auth_token=SecretStr(AUTH_TOKEN),
            public_url=PUBLIC_URL,
        )
        gw = await anext(gateways)
        row = await gw.ctx.store.assistants.create(
            {"name": "Acme", "provider": "openai", "fallback_provider": "gemini",
             "greeting": "Hello, Acme here."},
            gw.clock.now(),
        )  # fmt: skip
        await gw.ctx.store.numbers.create(
            {"number": NUMBER, "assistant_id": row.id, "carrier": "twilio"}, gw.clock.now()
        )
        setup.gateway, setup.twilio = gw, FakeTwilio(gw)
        serve = serving(gemini, setup.answer)
        await serve.__aenter__()
        started.append((gateways, serve, openai, gemini))
        return setup

    yield start
    for gateways, serve, openai, gemini in started:
        await serve.__aexit__(None, None, None)
        await gateways.aclose()
        await openai.stop()
        await gemini.stop()


async def test_failover_at_connect_greets_on_the_fallback(
    lines: Callable[..., Awaitable[Lines]],
) -> None:
    setup = await lines(refuse_openai=True)
    assert setup.twilio is not None
    stream = await dial(setup.twilio, NUMBER)
    await stream.wait_for_audio(len(REPLY) // 6)  # Gemini's greeting, 24 kHz → 8 kHz µ-law
    meta = await setup.session_meta(stream)
    await stream.stop()
    assert meta["failover"]["from"] == "openai" and meta["failover"]["to"] == "gemini"
    assert meta["failover"]["reason"] == "connect_failed"
    assert len(setup.asked) == 1 and "Hello, Acme here." in str(setup.asked[0])  # the greeting


async def test_failover_mid_call_continues_the_transcript_on_the_fallback(
    lines: Callable[..., Awaitable[Lines]],
) -> None:
    spoke, heard, turn_ended = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def fails_after_a_turn(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("response.create")
        await conn.audio_response("Hello, Acme here.", audio_ms=300)
        await spoke.wait()
        await conn.user_turn("I need a plumber tomorrow.")  # its VAD and transcript
        heard.set()
        await turn_ended.wait()  # the phone's VAD has ended the turn too: a reply is owed
        await conn.error("insufficient_quota")
        await conn.close(1000)

    setup = await lines(fails_after_a_turn)
    assert setup.twilio is not None
    stream = await dial(setup.twilio, NUMBER)
    await stream.wait_for_audio(300 * 8)
    await stream.play(300)
    spoke.set()  # OpenAI's VAD hears the speech start (here, before the phone's VAD ends it)
    await heard.wait()
    await stream.send_ulaw(speech_ulaw())  # a recorded phrase
    await stream.send_ulaw(b"\xff" * 160 * 40)  # 0.8 s of silence: the turn ends
    await asyncio.sleep(0.3)  # (loopback: the bridge reads those frames meanwhile)
    turn_ended.set()
    bridge = len(cue_ulaw("failover"))
    await stream.wait_for_audio(300 * 8 + bridge + len(REPLY) // 6)
    meta = await setup.session_meta(stream)
    await stream.stop()
    assert meta["failover"]["reason"] == "insufficient_quota"
    seed, question = setup.asked[0][0], setup.asked[0][-1]
    assert [(t["role"], t["parts"][0]["text"]) for t in seed["turns"]] == [
        ("model", "Hello, Acme here.")
    ]
    assert question["turns"][0]["parts"][0]["text"] == "I need a plumber tomorrow."
    assert setup.openai.attempts == 1  # a fatal error: no reconnect, straight to the fallback
