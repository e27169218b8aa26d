"""The load test's fake Gemini Live (``--provider gemini-fake``): it answers scripted exchanges
in the real BidiGenerateContent protocol, serves our own provider a whole spoken turn, and runs
as ``python -m`` the way ``scripts/twilio_sim/gateway_proc.py`` starts it."""

from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.genai import types

from providers.events import AgentAudio, ResponseDone, TranscriptDelta
from providers.gemini_live import GeminiLiveProvider, wire
from providers.spec import AssistantSpec, SessionContext, TurnDetection
from scripts.twilio_sim.gateway_proc import FAKES, PROVIDERS, free_port
from tests.fakes.gemini_live import PATH
from tests.fakes.gemini_live_default import BANNER, CPU_LINE, FakeGeminiServer
from tests.fakes.openai_realtime_default import REPLY_AUDIO_MS
from tests.virtual_clock import VirtualClock

REPO = Path(__file__).resolve().parents[2]
KEY = {"x-goog-api-key": "test-gemini-key"}
TIMEOUT_S = 5.0  # a guard against hangs only: every wait is for a message
LOUD_20MS = (4000).to_bytes(2, "little", signed=True) * 320  # PCM16 16 kHz
QUIET_20MS = b"\x00\x00" * 320
ASSISTANT = AssistantSpec(name="Ava", provider="gemini")

Message = dict[str, Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeGeminiServer]:
    server = FakeGeminiServer(reply_delay_s=0.0)  # answers at once: no time passes in tests
    await server.start()
    yield server
    await server.stop()
    assert server.invalid == []


class Client:
    """A raw client socket that checks every server message against google-genai's types."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: Message) -> None:
        await self.ws.send_json(message)

    async def receive(self) -> Message:
        message: Message = await self.ws.receive_json(timeout=TIMEOUT_S)
        types.LiveServerMessage.model_validate(message)
        return message

    async def until(self, content_key: str) -> list[Message]:
        """Server messages up to and including the ``serverContent`` with ``content_key``."""
        got = [await self.receive()]
        while content_key not in got[-1].get("serverContent", {}):
            got.append(await self.receive())
        return got


@pytest.fixture
async def connect(fake: FakeGeminiServer) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as http:

        async def open_(setup: Message) -> Client:
            url = f"ws://127.0.0.1:{fake.port}{PATH}"
            client = Client(await http.ws_connect(url, headers=KEY))
            await client.send(setup)
            assert await client.receive() == {"setupComplete": {}}
            return client

        yield open_


def setup_for(context: SessionContext, **assistant: Any) -> Message:
    """The setup our provider sends, from its own wire module."""
    spec = AssistantSpec(name="Ava", provider="gemini", **assistant)
    return wire.build_setup(spec, context, model="gemini-live", voice="Kore", resume_handle=None)


def content(messages: list[Message], key: str) -> list[Any]:
    return [m["serverContent"][key] for m in messages if key in m.get("serverContent", {})]


async def test_a_spoken_turn_gets_audio_transcripts_and_the_turn_end(connect: Any) -> None:
    client = await connect(setup_for(SessionContext("s1")))
    for _ in range(15):  # 300 ms of speech, then 600 ms of quiet: past the 500 ms silence
        await client.send(wire.audio_input(LOUD_20MS))
    for _ in range(30):
        await client.send(wire.audio_input(QUIET_20MS))
    got = await client.until("turnComplete")
    assert content(got, "inputTranscription") == [{"text": "(caller speech)", "finished": True}]
    parts = [part for turn in content(got, "modelTurn") for part in turn["parts"]]
    assert {part["inlineData"]["mimeType"] for part in parts} == {"audio/pcm;rate=24000"}
    audio = b"".join(base64.b64decode(part["inlineData"]["data"]) for part in parts)
    assert len(audio) == REPLY_AUDIO_MS * 48  # PCM16 at 24 kHz
    said = "".join(t["text"] for t in content(got, "outputTranscription"))
    assert said == "Thanks, I heard you."
    assert [next(iter(m["serverContent"])) for m in got[-2:]] == [
        "generationComplete",
        "turnComplete",
    ]
    update = await client.receive()
    assert update["sessionResumptionUpdate"]["resumable"] is True


async def test_activity_signals_end_a_turn_and_speech_interrupts_a_reply_in_thought(
    fake: FakeGeminiServer, connect: Any
) -> None:
    fake.reply_delay_s = 3600.0  # the reply stays "in thought" until the caller cuts it
    manual = TurnDetection(server_vad=False)
    client = await connect(setup_for(SessionContext("s1"), turn_detection=manual))
    await client.send(wire.activity_start())
    await client.send(wire.audio_input(QUIET_20MS))  # no VAD: only the signals count
    await client.send(wire.activity_end())
    heard = await client.receive()
    assert heard["serverContent"]["inputTranscription"]["finished"] is True
    await client.send(wire.activity_start())
    assert await client.receive() == {"serverContent": {"interrupted": True}}
    assert await client.receive() == {"serverContent": {"turnComplete": True}}


async def test_a_typed_turn_in_chat_mode_is_answered_in_text(connect: Any) -> None:
    client = await connect(setup_for(SessionContext("s1", mode="chat")))
    await client.send(wire.user_text("Hello?"))
    got = await client.until("turnComplete")
    (turn,) = content(got, "modelTurn")
    assert turn == {"parts": [{"text": "Thanks, I read your message."}]}


async def test_a_malformed_message_closes_with_1007_and_a_missing_key_is_refused(
    fake: FakeGeminiServer,
) -> None:
    url = f"ws://127.0.0.1:{fake.port}{PATH}"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url)
        assert refused.value.status == 401
        async with http.ws_connect(url, headers=KEY) as ws:
            await ws.send_json({"setup": {"model": "m", "noSuchField": 1}})
            closing = await ws.receive(timeout=TIMEOUT_S)
    assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1007
    assert len(fake.invalid) == 1
    fake.invalid.clear()  # expected here; the fixture asserts there are no others


async def test_our_provider_gets_a_whole_spoken_turn(fake: FakeGeminiServer) -> None:
    url = f"ws://127.0.0.1:{fake.port}{PATH}"
    provider = GeminiLiveProvider("test-gemini-key", url, clock=VirtualClock())
    session = await provider.connect(ASSISTANT, SessionContext("s1"))
    try:
        for chunk in [LOUD_20MS] * 15 + [QUIET_20MS] * 30:
            await session.send_audio(chunk)
        got = []
        async with asyncio.timeout(TIMEOUT_S):
            async for event in session:
                got.append(event)
                if isinstance(event, ResponseDone):
                    break
    finally:
        await session.aclose()
    assert sum(len(e.audio) for e in got if isinstance(e, AgentAudio)) == REPLY_AUDIO_MS * 48
    texts = {(e.source, e.text) for e in got if isinstance(e, TranscriptDelta)}
    assert ("input", "(caller speech)") in texts
    assert isinstance(got[-1], ResponseDone) and not got[-1].interrupted


async def test_runs_as_a_module_the_way_the_load_test_starts_it() -> None:
    assert "gemini-fake" in PROVIDERS
    fake = FAKES["gemini-fake"]
    port = free_port()
    assert fake.settings(port)["KURA_GEMINI_LIVE_URL"] == f"ws://127.0.0.1:{port}{PATH}"
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", fake.module, "--port", str(port)],
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):  # the interpreter's start, not a timer under test
            banner = (await process.stdout.readline()).decode()
        assert banner.startswith(fake.banner) and banner.startswith(BANNER)
        async with aiohttp.ClientSession() as http:
            url = f"ws://127.0.0.1:{port}{PATH}"
            async with http.ws_connect(url, headers=KEY) as ws:
                await ws.send_json(setup_for(SessionContext("s1")))
                assert await ws.receive_json(timeout=TIMEOUT_S) == {"setupComplete": {}}
        process.terminate()  # what the load test does: the fake reports its CPU time
        async with asyncio.timeout(20):
            last = (await process.stdout.read()).decode().strip().splitlines()[-1]
        assert last.startswith(CPU_LINE) and last.endswith("% of a core)")
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
