"""Turns marked by the gateway (``SessionContext.client_turns``): no level gate of our own;
``begin_turn`` sends ``activityStart`` and the turn's audio so far, ``end_turn`` ``activityEnd``,
and audio goes to Gemini only inside an activity."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from providers.gemini_live import GeminiLiveProvider, GeminiLiveSession
from providers.gemini_live.realtime_input import MAX_PREROLL_MS
from providers.spec import AssistantSpec, SessionContext
from tests.fakes.gemini_live import FakeConnection, FakeGeminiLive, body
from tests.virtual_clock import VirtualClock

BYTES_PER_MS = 32  # PCM16 at 16 kHz
ASSISTANT = AssistantSpec(name="Ava", provider="gemini")
CONTEXT = SessionContext(session_id="sess_1", client_turns=True)
OpenTurns = Callable[[], Awaitable[GeminiLiveSession]]


def chunk(n: int) -> bytes:
    """20 ms of loud audio, different for each ``n`` (the old level gate would open on it)."""
    return (1_000 * (n + 2)).to_bytes(2, "little", signed=True) * 320


@pytest.fixture
async def open_turns(
    fake: FakeGeminiLive, make_provider: Callable[..., GeminiLiveProvider]
) -> AsyncIterator[OpenTurns]:
    sessions: list[GeminiLiveSession] = []

    async def open_() -> GeminiLiveSession:
        session = await make_provider().connect(ASSISTANT, CONTEXT)
        assert isinstance(session, GeminiLiveSession)
        await fake.next_connection()
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        await session.aclose()


async def realtime(conn: FakeConnection, count: int) -> list[tuple[str, bytes]]:
    """The next ``count`` realtimeInput messages as (key, audio bytes or b"")."""
    out = []
    for _ in range(count):
        (key, value), *_ = body(await conn.receive("realtimeInput")).items()
        out.append((key, base64.b64decode(value["data"]) if key == "audio" else b""))
    return out


async def test_activity_brackets_the_turn_with_its_pre_roll_and_nothing_outside(
    fake: FakeGeminiLive, open_turns: OpenTurns
) -> None:
    session = await open_turns()
    conn = fake.connections[0]
    assert session.capabilities.server_vad is False
    assert conn.setup is not None
    assert conn.setup["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}

    for n in range(5):  # 100 ms: the turn began 50 ms before the end of it
        await session.send_audio(chunk(n))
    await session.begin_turn(50)
    await session.send_audio(chunk(5))
    await session.end_turn(20)
    await session.send_audio(chunk(6))  # after the turn: pre-roll for the next one, unsent

    assert await realtime(conn, 6) == [
        ("activityStart", b""),
        ("audio", chunk(2)[-10 * BYTES_PER_MS :]),
        ("audio", chunk(3)),
        ("audio", chunk(4)),
        ("audio", chunk(5)),
        ("activityEnd", b""),
    ]
    await session.begin_turn(0)  # a barge-in: activityStart goes out at once, with no audio
    assert await realtime(conn, 1) == [("activityStart", b"")]
    await session.send_audio(chunk(7))
    assert await realtime(conn, 1) == [("audio", chunk(7))]


async def test_marks_out_of_order_are_ignored(fake: FakeGeminiLive, open_turns: OpenTurns) -> None:
    session = await open_turns()
    conn = fake.connections[0]
    await session.end_turn(0)  # no turn is open
    await session.send_audio(chunk(0))
    await session.begin_turn(20)
    await session.begin_turn(20)  # already open
    await session.send_audio(chunk(1))
    await session.end_turn(0)
    await session.end_turn(0)  # already ended
    await session.begin_turn(0)
    assert [key for key, _ in await realtime(conn, 5)] == [
        "activityStart",
        "audio",
        "audio",
        "activityEnd",
        "activityStart",
    ]


async def test_the_pre_roll_is_bounded(fake: FakeGeminiLive, open_turns: OpenTurns) -> None:
    session = await open_turns()
    conn = fake.connections[0]
    for n in range(150):  # 3 s before the gateway's VAD says anything
        await session.send_audio(chunk(n % 20))
    await session.begin_turn(3_000)
    await session.end_turn(0)
    got = await realtime(conn, 2 + MAX_PREROLL_MS // 20)
    assert got[0] == ("activityStart", b"") and got[-1] == ("activityEnd", b"")
    assert sum(len(audio) for _, audio in got) == MAX_PREROLL_MS * BYTES_PER_MS


async def test_a_turn_across_a_reconnect_is_sent_whole_on_the_new_connection(
    fake: FakeGeminiLive, open_turns: OpenTurns
) -> None:
    session = await open_turns()
    first = fake.connections[0]
    await session.begin_turn(0)
    await session.send_audio(chunk(0))
    assert [key for key, _ in await realtime(first, 2)] == ["activityStart", "audio"]

    fake.auto_setup_complete = False  # hold the new connection at setup
    await first.close(1011, "Deadline expired")
    second = await fake.next_connection()
    await session.send_audio(chunk(1))  # the turn goes on while we reconnect
    await session.end_turn(0)
    await session.send_audio(chunk(2))  # after the turn: not sent
    await second.send({"setupComplete": {}})
    assert await realtime(second, 3) == [
        ("activityStart", b""),
        ("audio", chunk(1)),
        ("activityEnd", b""),
    ]
    await session.begin_turn(0)
    assert await realtime(second, 1) == [("activityStart", b"")]


async def test_a_turn_left_unanswered_is_a_stall(
    fake: FakeGeminiLive, clock: VirtualClock, open_turns: OpenTurns
) -> None:
    session = await open_turns()
    first = fake.connections[0]
    await session.begin_turn(0)
    await session.send_audio(b"\x00\x00" * 320)  # quiet audio alone arms nothing
    await realtime(first, 2)
    await clock.advance(5)
    await session.end_turn(0)  # but a finished turn calls for an answer
    await realtime(first, 1)
    await clock.advance(9.9)
    assert len(fake.connections) == 1
    await clock.advance(0.1)
    await fake.next_connection()
    await first.wait_closed()
