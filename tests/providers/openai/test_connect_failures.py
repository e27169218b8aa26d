"""Provider down or refusing us at call start (reliability.md rows 7 and 9), and hygiene."""

from __future__ import annotations

import asyncio
import logging

import pytest

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderProtocolError,
    ProviderQuotaError,
    ProviderUnavailable,
)
from providers.spec import AssistantSpec, SessionContext
from tests.fakes.openai_realtime import FakeConnection, free_port
from tests.providers.openai.conftest import (
    API_KEY,
    NO_TIMEOUT,
    Events,
    ServerFactory,
    drain,
    drive,
    failures,
    make_provider,
    serve,
)
from tests.virtual_clock import VirtualClock

ASSISTANT = AssistantSpec(name="Acme", instructions="Be brief.", provider="openai")
CONTEXT = SessionContext("s1")


# Row 7: provider down at call start.


async def test_refused_connect_retries_with_backoff_then_gives_up(clock: VirtualClock) -> None:
    provider = make_provider(f"ws://127.0.0.1:{free_port()}/v1/realtime", clock, **NO_TIMEOUT)
    started = clock.monotonic()
    task = asyncio.create_task(provider.connect(ASSISTANT, CONTEXT))
    with pytest.raises(ProviderUnavailable) as caught:
        await drive(clock, task)
    assert caught.value.code == "connect_failed"
    # One 0.25 s back-off, plus whatever 0.25 s steps ``drive`` took while a refusal was in
    # flight (an attempt's time-out timer counts as a sleeper).
    assert 0.25 <= clock.monotonic() - started <= 0.75


async def test_server_errors_are_retried_a_bounded_number_of_times(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(serve, refuse=lambda attempt: 503)
    task = asyncio.create_task(
        make_provider(server.url, clock, **NO_TIMEOUT).connect(ASSISTANT, CONTEXT)
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await drive(clock, task)
    assert (caught.value.code, server.attempts) == ("http_503", 2)


async def test_blackholed_connect_times_out_within_the_budget(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    """Accepted but silent (no session.created): each attempt times out on the clock."""
    server = await fake_server(drain)
    provider = make_provider(server.url, clock)  # the defaults: 2 attempts of 2 s, 4 s in all
    started = clock.monotonic()
    task = asyncio.create_task(provider.connect(ASSISTANT, CONTEXT))
    with pytest.raises(ProviderUnavailable) as caught:
        await drive(clock, task)
    assert caught.value.code == "connect_timeout"
    assert server.attempts == 2
    assert clock.monotonic() - started <= 4.0


# Row 9: fatal errors never loop.


@pytest.mark.parametrize(
    ("script_error", "error_type", "code"),
    [
        ("invalid_api_key", ProviderAuthError, "invalid_api_key"),
        ("insufficient_quota", ProviderQuotaError, "insufficient_quota"),
    ],
)
async def test_fatal_error_at_connect_is_not_retried(
    fake_server: ServerFactory,
    clock: VirtualClock,
    script_error: str,
    error_type: type[ProviderError],
    code: str,
) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.error(script_error)
        await conn.close(1000)

    server = await fake_server(script)
    with pytest.raises(error_type) as caught:
        await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    assert (caught.value.code, caught.value.retryable, server.attempts) == (code, False, 1)


async def test_unauthorized_handshake_is_not_retried(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(serve, refuse=lambda attempt: 401)
    with pytest.raises(ProviderAuthError):
        await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    assert server.attempts == 1


async def test_accept_then_close_1008_is_not_an_endless_loop(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(lambda conn: conn.close(1008))
    with pytest.raises(ProviderProtocolError) as caught:
        await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    assert (caught.value.code, server.attempts) == ("closed_1008", 1)


@pytest.mark.parametrize(
    ("ending", "code"),
    [
        ("insufficient_quota", "insufficient_quota"),
        ("invalid_api_key", "invalid_api_key"),
        (1008, "closed_1008"),
    ],
)
async def test_fatal_error_mid_session_ends_it_without_reconnecting(
    fake_server: ServerFactory, clock: VirtualClock, ending: str | int, code: str
) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("input_audio_buffer.append")
        if isinstance(ending, str):
            await conn.error(ending)
        else:
            await conn.close(ending)

    server = await fake_server(script)
    session = await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    await session.send_audio(b"\x00\x00" * 480)
    events = await Events(session).rest()  # iteration ends after ProviderFailed
    await session.aclose()
    assert failures(events) == [(code, False)]
    assert server.attempts == 1


# Hygiene: closing, tasks, secrets.


async def test_aclose_is_idempotent_and_ends_iteration(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(serve)
    session = await make_provider(server.url, clock).connect(ASSISTANT, CONTEXT)
    reader = asyncio.create_task(Events(session).rest())
    await session.aclose()
    await session.aclose()
    assert await reader == []
    assert [e async for e in session] == []
    await session.send_audio(b"\x00\x00")  # ignored, not an error
    leftover = [t for t in asyncio.all_tasks() if t.get_name() == "openai-realtime"]
    assert leftover == []


async def test_the_key_never_reaches_logs_urls_or_errors(
    fake_server: ServerFactory, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await fake_server([serve, lambda conn: conn.error("invalid_api_key")])
    provider = make_provider(server.url, clock)
    session = await provider.connect(ASSISTANT, CONTEXT)
    await session.aclose()
    with pytest.raises(ProviderAuthError) as caught:
        await provider.connect(ASSISTANT, CONTEXT)
    assert server.connections[0].authorization == f"Bearer {API_KEY}"
    assert API_KEY not in str(server.connections[0].query)
    texts = [caplog.text, str(caught.value), repr(caught.value), repr(provider), repr(session)]
    texts += [repr(record.__dict__) for record in caplog.records]
    assert not [text for text in texts if API_KEY in text]
