"""Connect failures: bounded retries for transient ones, none for fatal ones (rows 7, 9)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderProtocolError,
    ProviderQuotaError,
    ProviderUnavailable,
)
from providers.events import ProviderFailed
from providers.gemini_live import GeminiLiveProvider, GeminiLiveSession
from providers.spec import AssistantSpec, SessionContext
from tests.fakes.gemini_live import FakeGeminiLive
from tests.providers.gemini.conftest import API_KEY, Events, drive
from tests.virtual_clock import VirtualClock

MakeProvider = Callable[..., GeminiLiveProvider]
OpenSession = Callable[..., Awaitable[GeminiLiveSession]]
ASSISTANT = AssistantSpec(name="Ava", provider="gemini")
CONTEXT = SessionContext(session_id="sess_1")


def _connect(provider: GeminiLiveProvider) -> asyncio.Task[object]:
    return asyncio.create_task(provider.connect(ASSISTANT, CONTEXT))


async def _failure(clock: VirtualClock, task: asyncio.Task[object]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await drive(clock, task)
    return caught.value


async def test_missing_key_fails_without_touching_the_network(
    fake: FakeGeminiLive, make_provider: MakeProvider
) -> None:
    with pytest.raises(ProviderAuthError) as caught:
        await make_provider(api_key=None).connect(ASSISTANT, CONTEXT)
    assert caught.value.code == "missing_api_key"
    assert fake.handshakes == 0


async def test_refused_connect_retries_a_bounded_number_of_times(
    clock: VirtualClock, make_provider: MakeProvider
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_url = f"ws://127.0.0.1:{probe.getsockname()[1]}/ws"
    start = clock.monotonic()
    error = await _failure(clock, _connect(make_provider(url=closed_url)))
    assert isinstance(error, ProviderUnavailable) and error.code == "connect_failed"
    assert error.retryable
    assert clock.monotonic() - start < 2.0  # two jittered back-offs of at most 0.25 and 0.5 s


async def test_server_errors_on_upgrade_are_retried_then_reported(
    fake: FakeGeminiLive, clock: VirtualClock, make_provider: MakeProvider
) -> None:
    fake.http_status = 503
    error = await _failure(clock, _connect(make_provider(max_connect_attempts=4)))
    assert isinstance(error, ProviderUnavailable)
    assert fake.handshakes == 4


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, ProviderAuthError), (403, ProviderAuthError), (429, ProviderQuotaError)],
)
async def test_fatal_upgrade_statuses_are_not_retried(
    fake: FakeGeminiLive,
    clock: VirtualClock,
    make_provider: MakeProvider,
    status: int,
    error_type: type[ProviderError],
) -> None:
    fake.http_status = status
    error = await _failure(clock, _connect(make_provider()))
    assert type(error) is error_type and not error.retryable
    assert fake.handshakes == 1


@pytest.mark.parametrize(
    ("code", "reason", "error_type", "error_code"),
    [
        (
            1007,
            "API key not valid. Please pass a valid API key.",
            ProviderAuthError,
            "invalid_api_key",
        ),
        (1007, "Request contains an invalid argument.", ProviderProtocolError, "invalid_argument"),
        (1011, "You exceeded your current quota.", ProviderQuotaError, "quota_exceeded"),
        (
            1008,
            "models/gemini-x is not found for API version v1beta, or is not supported for "
            "bidiGenerateContent.",
            ProviderConfigError,
            "model_not_found",
        ),
    ],
)
async def test_fatal_closes_during_setup_are_not_retried(
    fake: FakeGeminiLive,
    clock: VirtualClock,
    make_provider: MakeProvider,
    code: int,
    reason: str,
    error_type: type[ProviderError],
    error_code: str,
) -> None:
    fake.auto_setup_complete = False
    task = _connect(make_provider())
    conn = await fake.next_connection()
    await conn.close(code, reason)
    error = await _failure(clock, task)
    assert type(error) is error_type and error.code == error_code
    assert API_KEY not in str(error)
    assert fake.handshakes == 1


async def test_a_server_that_never_completes_setup_times_out_on_the_clock(
    fake: FakeGeminiLive, clock: VirtualClock, make_provider: MakeProvider
) -> None:
    fake.auto_setup_complete = False
    task = _connect(make_provider(connect_timeout_s=2.0, connect_budget_s=4.0))  # the defaults
    start = clock.monotonic()
    error = await _failure(clock, task)
    assert isinstance(error, ProviderUnavailable) and error.code == "connect_failed"
    assert fake.handshakes == 2
    assert 2.0 < clock.monotonic() - start <= 4.0 + 0.05


async def test_fatal_close_mid_session_ends_with_provider_failed(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session()
    events = Events(session)
    await fake.connections[0].close(1008, "Policy violation.")
    event = await events.next()
    assert isinstance(event, ProviderFailed)
    assert (event.code, event.retryable) == ("policy_violation", False)
    assert await events.ended()
    assert fake.handshakes == 1
    await session.send_audio(b"\x00\x00" * 320)  # ignored, no error, after the end
