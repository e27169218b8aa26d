"""The fake itself: the official SDK client accepts it, and its default script (used by load
tests) serves whole conversations to our provider, in process and as ``python -m``."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

import aiohttp
from openai import AsyncOpenAI

from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone, TranscriptDelta
from providers.spec import AssistantSpec, SessionContext
from tests.fakes.openai_realtime import CPU_LINE, audio_bytes, free_port
from tests.fakes.openai_realtime_default import default_script
from tests.providers.openai.conftest import Events, ServerFactory, make_provider
from tests.virtual_clock import VirtualClock

ASSISTANT = AssistantSpec(name="Acme", provider="openai")
REPO = Path(__file__).resolve().parents[3]


async def test_the_official_sdk_client_talks_to_the_fake(fake_server: ServerFactory) -> None:
    server = await fake_server(default_script)
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=f"ws://127.0.0.1:{server.port}/v1")
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.response.create()
        kinds = []
        async with asyncio.timeout(5):
            async for event in conn:
                kinds.append(event.type)
                if event.type == "response.done":
                    break
    assert kinds[:2] == ["session.created", "session.updated"]
    assert "response.output_text.delta" in kinds


async def test_server_vad_cancels_the_reply_and_a_late_cancel_is_refused(
    fake_server: ServerFactory,
) -> None:
    """As OpenAI does with ``interrupt_response`` (its default): speech start cancels the
    response in flight (``turn_detected``), and a ``response.cancel`` after that gets
    ``response_cancel_not_active``, echoing the cancel's ``event_id``."""
    server = await fake_server(default_script)
    client = AsyncOpenAI(api_key="sk-test", websocket_base_url=f"ws://127.0.0.1:{server.port}/v1")
    vad = {"type": "server_vad", "silence_duration_ms": 500}
    audio_in = {"format": {"type": "audio/pcm", "rate": 24_000}, "turn_detection": vad}
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "audio": {"input": audio_in}})
        await conn.response.create()
        seen: list[str] = []
        async with asyncio.timeout(5):
            async for event in conn:
                seen.append(event.type)
                if event.type == "response.created":  # the reply is thinking: talk over it
                    loud = base64.b64encode(audio_bytes(20)).decode()
                    await conn.input_audio_buffer.append(audio=loud)
                elif event.type == "response.done":
                    assert event.response.status == "cancelled"
                    assert event.response.status_details is not None
                    assert event.response.status_details.reason == "turn_detected"
                    await conn.response.cancel(event_id="evt_late_cancel")
                elif event.type == "error":
                    error = event.error
                    break
    assert seen.index("input_audio_buffer.speech_started") < seen.index("response.done")
    assert (error.type, error.code, error.event_id) == (
        "invalid_request_error",
        "response_cancel_not_active",
        "evt_late_cancel",
    )
    assert error.message == "Cancellation failed: no active response found"


async def test_default_script_answers_a_spoken_turn(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(default_script)
    session = await make_provider(server.url, clock).connect(ASSISTANT, SessionContext("s1"))
    events = Events(session)
    for _ in range(15):  # 300 ms of speech, then 600 ms of silence
        await session.send_audio(audio_bytes(20))
    for _ in range(30):
        await session.send_audio(b"\x00\x00" * 480)
    got = await events.until("response_done")
    await session.aclose()
    assert isinstance(got[0], CallerSpeechStarted)
    assert any(isinstance(e, TranscriptDelta) and e.source == "input" and e.final for e in got)
    assert sum(len(e.audio) for e in got if isinstance(e, AgentAudio)) == 1200 * 48
    assert isinstance(got[-1], ResponseDone) and not got[-1].interrupted


async def test_default_script_answers_chat_and_honours_cancel(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(default_script)
    provider = make_provider(server.url, clock)
    session = await provider.connect(ASSISTANT, SessionContext("s1", mode="chat"))
    events = Events(session)
    await session.send_text("Hello?")
    got = await events.until("response_done")
    assert [e.text for e in got if isinstance(e, TranscriptDelta)] == [
        "Thanks, I read your message."
    ]
    await session.send_text("And again?")
    await session.interrupt(None)  # before the reply starts: a plain cancel
    late = await events.until("response_done")
    await session.aclose()
    assert isinstance(late[-1], ResponseDone) and late[-1].interrupted
    assert late == [late[-1]]  # nothing of the cancelled reply leaked out


async def test_runs_as_a_module_for_load_tests() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openai_realtime",
        "--port",
        str(port),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            banner = await process.stdout.readline()
        assert f":{port}/v1/realtime" in banner.decode()
        async with aiohttp.ClientSession() as http:
            url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
            async with http.ws_connect(url) as ws:
                first = await ws.receive_json(timeout=5)
        assert first["type"] == "session.created"
        process.terminate()  # what the load test does: the fake reports its CPU time
        async with asyncio.timeout(20):
            last = (await process.stdout.read()).decode().strip().splitlines()[-1]
        assert last.startswith(CPU_LINE) and last.endswith("% of a core)")
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
