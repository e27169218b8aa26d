"""Caller audio goes to OpenAI in appends of ``audio_batch_ms``; a commit never leaves any
behind."""

from __future__ import annotations

import base64

from providers.openai_realtime import PCMU_8K
from providers.spec import AssistantSpec, SessionContext, TurnDetection
from tests.fakes.openai_realtime import FakeConnection
from tests.providers.openai.conftest import ServerFactory, make_provider, until
from tests.virtual_clock import VirtualClock

ASSISTANT = AssistantSpec(name="Acme", provider="openai")
FRAME = b"\x10\x90" * 80  # 20 ms of loud µ-law


async def listen(conn: FakeConnection) -> None:
    await conn.session_created()


def appended(conn: FakeConnection) -> list[bytes]:
    kinds = ("input_audio_buffer.append", "input_audio_buffer.commit")
    events = [e for e in conn.received if e["type"] in kinds]
    return [base64.b64decode(e["audio"]) if "audio" in e else b"commit" for e in events]


async def test_two_frames_make_one_append(fake_server: ServerFactory, clock: VirtualClock) -> None:
    server = await fake_server(listen)
    provider = make_provider(server.url, clock, audio_batch_ms=40)
    session = await provider.connect(
        ASSISTANT, SessionContext("s1"), input_audio=PCMU_8K, output_audio=PCMU_8K
    )
    for _ in range(5):
        await session.send_audio(FRAME)
    conn = server.connections[0]
    await until(lambda: len(appended(conn)) == 2)
    await session.aclose()
    assert appended(conn) == [FRAME * 2, FRAME * 2]  # the fifth frame waits for its pair


async def test_the_commit_follows_every_frame(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(listen)
    provider = make_provider(server.url, clock, audio_batch_ms=40)
    assistant = AssistantSpec(
        name="Acme", provider="openai", turn_detection=TurnDetection(server_vad=False)
    )
    session = await provider.connect(
        assistant, SessionContext("s1"), input_audio=PCMU_8K, output_audio=PCMU_8K
    )
    for _ in range(3):
        await session.send_audio(FRAME)
    await session.end_turn(0)
    conn = server.connections[0]
    await until(lambda: b"commit" in appended(conn))
    await session.aclose()
    assert appended(conn) == [FRAME * 2, FRAME, b"commit"]
