"""Losing a live connection (reliability.md rows 8, 10, 11): reconnect, re-seed, recycle, stall."""

from __future__ import annotations

import asyncio

from providers.events import ResponseDone
from providers.spec import AssistantSpec, HistoryItem, SessionContext
from tests.fakes.openai_realtime import FakeConnection
from tests.providers.openai.conftest import (
    NO_TIMEOUT,
    Events,
    ServerFactory,
    audio_received,
    drain,
    drive,
    failures,
    make_provider,
    serve,
    until,
)
from tests.virtual_clock import VirtualClock

ASSISTANT = AssistantSpec(name="Acme", instructions="Be brief.", provider="openai")
CONTEXT = SessionContext("s1")


# Row 8: drop mid-call → reconnect and re-seed; row 11: the session cap.

SEED = (HistoryItem("user", "Hi, it's Ana."), HistoryItem("assistant", "Hello Ana!"))
SPOKEN = "one two three four five six seven eight nine ten"


def replayed(conn: FakeConnection) -> list[tuple[str, str]]:
    """(role, text) of the items a connection was seeded with."""
    items = [e["item"] for e in conn.received if e["type"] == "conversation.item.create"]
    return [(item["role"], item["content"][0]["text"]) for item in items]


async def test_drop_mid_call_reconnects_and_reseeds_what_was_heard(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def first(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("input_audio_buffer.append")
        await conn.user_turn("I need a plumber.")
        response = await conn.start_response()
        await conn.audio_item(response, SPOKEN, audio_ms=1000)
        await conn.expect("conversation.item.truncate")
        await conn.finish_response(response, "cancelled", "client_cancelled")
        await conn.close(1011)

    async def second(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("input_audio_buffer.append")
        await conn.user_turn("Tomorrow morning.")
        await conn.audio_response("Booked for tomorrow.")

    server = await fake_server([first, second])
    context = SessionContext("s1", history=SEED)
    session = await make_provider(server.url, clock).connect(ASSISTANT, context)
    events = Events(session)
    await session.send_audio(b"\x00\x00" * 480)
    while audio_received(events.seen) < 1000 * 48:
        await events.next("agent_audio")
    await session.interrupt(460)
    await events.next("response_done")
    await server.wait_for_connections(2)
    await session.send_audio(b"\x00\x00" * 480)
    done = await events.next("response_done")
    await session.aclose()

    assert replayed(server.connections[0]) == list(
        zip(["user", "assistant"], ["Hi, it's Ana.", "Hello Ana!"], strict=True)
    )
    assert server.connections[1].received_types()[0] == "session.update"
    assert server.connections[1].session["instructions"].startswith("Be brief.")
    assert replayed(server.connections[1]) == [
        ("user", "Hi, it's Ana."),
        ("assistant", "Hello Ana!"),
        ("user", "I need a plumber."),
        ("assistant", "one two three four"),  # only what the caller heard
    ]
    assert "response.create" not in server.connections[1].received_types()
    assert isinstance(done, ResponseDone) and not done.interrupted
    assert not any(e.kind == "provider_failed" for e in events.seen)


async def test_drop_before_the_reply_asks_the_new_connection_for_it(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def first(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("response.create")
        await conn.close(1006)

    async def second(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("response.create")
        await conn.text_response("We open at nine.")

    server = await fake_server([first, second])
    session = await make_provider(server.url, clock).connect(
        ASSISTANT, SessionContext("s1", mode="chat")
    )
    events = Events(session)
    await session.send_text("Opening hours?")
    await events.next("response_done")
    await session.aclose()
    assert replayed(server.connections[1]) == [("user", "Opening hours?")]


async def test_repeated_drops_end_the_session_after_a_bound(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def flaky(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        await conn.close(1011)

    server = await fake_server(flaky)
    session = await make_provider(server.url, clock, max_reconnects=3).connect(ASSISTANT, CONTEXT)
    events = await Events(session).rest()
    await session.aclose()
    assert failures(events) == [("closed_1011", True)]
    assert server.attempts == 4  # the first connection and three reconnects


async def test_reconnect_that_cannot_connect_fails_the_session(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def drop(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        await conn.close(1001)

    server = await fake_server(drop, refuse=lambda attempt: None if attempt == 1 else 503)
    session = await make_provider(server.url, clock, **NO_TIMEOUT).connect(ASSISTANT, CONTEXT)
    reader = asyncio.create_task(Events(session).rest())
    events = await drive(clock, reader)
    await session.aclose()
    assert failures(events) == [("http_503", True)]
    assert server.attempts == 3  # one good connection, then one reconnect of two attempts


async def test_session_expired_reconnects_and_replays(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def capped(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        await conn.audio_response("Hello, Acme here.")
        await conn.error("session_expired")
        await conn.close(1001)

    server = await fake_server([capped, serve])
    session = await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    await Events(session).next("response_done")
    await server.wait_for_connections(2)
    await until(lambda: "conversation.item.create" in server.connections[1].received_types())
    await session.aclose()
    assert replayed(server.connections[1]) == [("assistant", "Hello, Acme here.")]


async def test_recycles_before_the_cap_after_the_current_response(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    may_finish = asyncio.Event()

    async def long_lived(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        response = await conn.start_response()
        await conn.audio_item(response, "Let me explain at length.", audio_ms=400)
        await may_finish.wait()
        await conn.finish_response(response)

    server = await fake_server([long_lived, serve])
    provider = make_provider(server.url, clock, recycle_after_s=50 * 60.0)
    session = await provider.connect(ASSISTANT, CONTEXT)
    events = Events(session)
    await events.next("agent_audio")
    await clock.advance(50 * 60.0)  # due, but a response is in flight
    await clock.advance(5.0)
    assert len(server.connections) == 1
    may_finish.set()
    await events.next("response_done")
    await clock.advance(0.5)
    await server.wait_for_connections(2)
    await until(lambda: "conversation.item.create" in server.connections[1].received_types())
    await session.aclose()
    assert replayed(server.connections[1]) == [("assistant", "Let me explain at length.")]
    assert server.connections[0].ws.closed


# Row 10: a stalled provider (socket open, nothing arriving while the caller speaks).


async def test_stall_is_detected_within_10_s_and_the_session_reconnects(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    closed_at: list[float] = []

    async def stalled(conn: FakeConnection) -> None:
        conn.on_client_close = lambda: closed_at.append(clock.monotonic())
        await conn.session_created()
        await drain(conn)

    server = await fake_server([stalled, serve])
    provider = make_provider(server.url, clock, stall_timeout_s=10.0)
    session = await provider.connect(ASSISTANT, CONTEXT)
    started = clock.monotonic()
    while not closed_at:
        await session.send_audio(b"\x00\x00" * 2400)  # the caller keeps talking
        await clock.advance(0.05)
        await asyncio.sleep(0.001)  # let loopback I/O (the close handshake) happen
        assert clock.monotonic() - started < 12.0
    await server.wait_for_connections(2)
    await session.send_audio(b"\x00\x00" * 480)  # kept during the reconnect if need be
    await until(lambda: "input_audio_buffer.append" in server.connections[1].received_types())
    await session.aclose()
    # Detected at 10 s on the watchdog; the close handshake runs on real loopback I/O while the
    # virtual clock steps 50 ms per millisecond of real time, so the fake sees it a few steps on.
    assert closed_at[0] - started <= 10.0 + 0.25
    probe = {"type": "session.update", "session": {"type": "realtime"}}
    assert server.connections[0].received.count(probe) == 1  # asked once, at half time
    assert server.connections[1].received_types()[0] == "session.update"


async def test_a_provider_that_keeps_stalling_fails_the_session(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def stalled(conn: FakeConnection) -> None:
        await conn.session_created()
        await drain(conn)

    server = await fake_server(stalled)
    provider = make_provider(server.url, clock, max_reconnects=1, **NO_TIMEOUT)
    session = await provider.connect(ASSISTANT, CONTEXT)
    reader = asyncio.create_task(Events(session).rest())
    async with asyncio.timeout(5):
        while not reader.done():
            await session.send_audio(b"\x00\x00" * 480)
            await clock.advance(0.1)
            await asyncio.sleep(0)
    await session.aclose()
    assert failures(reader.result()) == [("provider_stalled", True)]
    assert server.attempts == 2


async def test_quiet_but_alive_server_is_not_a_stall(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    """Mutual silence: the probe gets its session.updated and the call goes on."""

    async def quiet(conn: FakeConnection) -> None:
        await conn.session_created()
        while (event := await conn.next_event(timeout_s=None)) is not None:
            if event["type"] == "session.update":
                await conn.send({"type": "session.updated", "session": dict(conn.session)})

    server = await fake_server(quiet)
    session = await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    for _ in range(30 * 10):  # 30 s of caller silence, 100 ms at a time
        await session.send_audio(b"\x00\x00" * 4800)
        await clock.advance(0.1)
        await asyncio.sleep(0)
    await session.aclose()
    assert server.attempts == 1


async def test_malformed_server_events_are_skipped_not_fatal(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def sloppy(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        await conn.ws.send_str("not json")
        await conn.ws.send_str('{"type": "response.output_audio.delta", "delta": "AAAA"}')
        bad_audio = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
        await conn.send({"type": "response.output_audio.delta", **bad_audio, "delta": "!!"})
        await conn.audio_response("Still here.")

    server = await fake_server(sloppy)
    session = await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    got = await Events(session).until("response_done")
    await session.aclose()
    assert not [e for e in got if e.kind == "provider_failed"]
    assert server.attempts == 1
