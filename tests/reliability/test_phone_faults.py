"""Provider faults on a real phone call at DEFAULT settings, OpenAI Realtime (reliability.md
rows 7, 8, 9, 11; issue #12: "the caller never hears more than 3 s of silence before an
apology or recovery, whatever the provider does").

Each test dials the real gateway as Twilio does and reads, at the fake carrier, what the caller
hears (``phone_line``): the silence from the caller's last word (or the call's answer) to the
first apology or recovered agent audio. The fake runs its default behaviour with one fault
injected (``tests.fakes.openai_faults``), answering at once: its think time would be real time
on a virtual-clock test. Nothing is overridden; the providers are built by ``build_registry``
as ``kura serve`` builds them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.fakes import openai_faults, openai_realtime_default
from tests.fakes.openai_faults import Fault, faulty_script
from tests.fakes.openai_realtime import (
    FakeConnection,
    FakeRealtimeServer,
    Response,
    Script,
    free_port,
)
from tests.reliability.phone_line import PhoneCall, after_the_greeting, fault_gateway, phone_call
from tests.virtual_clock import VirtualClock

MAX_SILENCE_S = 3.0  # issue #12 (row 7 allows 8 s, row 8 3 s)
Dial = Callable[..., Awaitable[tuple[PhoneCall, FakeRealtimeServer]]]


@pytest.fixture(autouse=True)
def answer_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_realtime_default, "REPLY_DELAY_S", 0.0)
    monkeypatch.setattr(openai_realtime_default, "REPLY_AUDIO_MS", 600)  # shorter calls


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def dial(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[Dial]:
    """``await dial(*scripts, refuse=status, url=…, greets=…)``: a fake OpenAI running
    ``scripts`` (one per connection, the last repeats), the gateway on ``clock``, and a call
    placed to it (``greets=False``: no greeting will come)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            *scripts: Script, refuse: int | None = None, url: str | None = None, greets: bool = True
        ) -> tuple[PhoneCall, FakeRealtimeServer]:
            refusal = (lambda _: refuse) if refuse else None
            server = FakeRealtimeServer(list(scripts) or [faulty_script(None)], refuse=refusal)
            await server.start()
            stack.push_async_callback(server.stop)
            twilio = await stack.enter_async_context(
                fault_gateway(tmp_path, clock, openai_url=url or server.url)
            )
            call = await stack.enter_async_context(phone_call(twilio, "openai"))
            # A call with no greeting to come starts once the provider is being dialled.
            await call.dial(None if greets else lambda: url is not None or server.attempts > 0)
            return call, server

        yield start


def stamped(fault: Fault, clock: VirtualClock, fired: list[float]) -> Fault:
    """``fault``, noting when it struck."""

    async def strike(conn: FakeConnection, response: Response) -> None:
        fired.append(clock.monotonic())
        await fault(conn, response)

    return strike


async def test_a_healthy_call_greets_and_answers(dial: Dial) -> None:
    call, _ = await dial()
    assert await call.hear("agent", call.started_s, limit_s=1.0) == call.started_s
    spoke_until = await after_the_greeting(call)
    answer = await call.hear("agent", spoke_until, limit_s=3.0)
    assert answer - spoke_until <= 0.6  # the turn detection's 500 ms of silence, then at once
    assert call.ear.kinds() == ["agent"]


# --- row 7: the provider is down at call start --------------------------------------------------


async def test_refused_at_call_start_apologises_at_once_and_ends_the_call(dial: Dial) -> None:
    call, _ = await dial(url=f"ws://127.0.0.1:{free_port()}/v1/realtime", greets=False)
    apology = await call.hear("apology", call.started_s, limit_s=2.0)
    assert apology - call.started_s <= 0.5  # measured: 0.26 s (two refusals, one pause)
    await call.run(25.0, frames_per_step=10)  # the apology plays out (coarse steps)
    assert call.ended_s is not None and call.ended_s - call.started_s <= 20.0  # measured: 7.1 s
    assert call.ear.kinds() == ["apology"]
    assert "<Hangup" in await call.action()


async def test_blackholed_at_call_start_holds_then_apologises(dial: Dial) -> None:
    call, server = await dial(openai_faults.blackhole, greets=False)
    apology = await call.hear("apology", call.started_s, limit_s=6.0)
    assert call.ear.kinds() == ["holding", "apology"]
    assert call.ear.longest_silence(call.started_s) <= MAX_SILENCE_S  # measured: 1.52 s
    assert apology - call.started_s <= 4.0 + 0.1  # two attempts of 2 s; measured: 4.02 s
    assert server.attempts == 2


async def test_accept_then_silence_at_call_start_holds_then_apologises(dial: Dial) -> None:
    call, server = await dial(openai_faults.accept_then_silence, greets=False)
    await call.hear("apology", call.started_s, limit_s=8.0)
    assert call.ear.kinds() == ["holding", "apology"]
    assert call.ear.longest_silence(call.started_s) <= MAX_SILENCE_S  # measured: 2.02 s
    assert server.attempts == 2  # one quick reconnect, no more


async def test_an_unauthorized_handshake_is_not_retried(dial: Dial) -> None:
    call, server = await dial(refuse=401, greets=False)
    apology = await call.hear("apology", call.started_s, limit_s=2.0)
    assert apology - call.started_s <= 0.1 and server.attempts == 1


# --- row 8: the provider drops mid-call ---------------------------------------------------------


@pytest.mark.parametrize(("fault", "at_turn"), [("drop-1011", 2), ("tcp-reset", 1)])
async def test_drop_mid_response_recovers_within_3_s(
    dial: Dial, clock: VirtualClock, fault: str, at_turn: int
) -> None:
    fired: list[float] = []
    faulty = faulty_script(stamped(openai_faults.MID_CALL[fault], clock, fired), at_turn)
    call, server = await dial(faulty, faulty_script(None))
    spoke_until = await after_the_greeting(call)
    for _ in range(at_turn - 1):  # answered turns before the one that breaks
        await call.hear("agent", spoke_until, limit_s=3.0)
        await call.run_until(call.quiet, limit_s=3.0)
        spoke_until = await call.say()
    answer = await call.hear("agent", spoke_until, limit_s=5.0, behind="holding")
    assert call.ear.kinds()[-3:] == ["agent", "holding", "agent"]
    # Row 8: the gap. Measured: 0.54 s of silence (the turn detection's 500 ms, then the
    # holding line at once); the answer plays 1.86 s after the drop, behind the holding line.
    assert call.ear.longest_silence(spoke_until, answer) <= MAX_SILENCE_S
    assert answer - fired[0] <= MAX_SILENCE_S
    assert server.attempts == 2


async def test_silent_mid_call_holds_reconnects_once_then_apologises(
    dial: Dial, clock: VirtualClock
) -> None:
    call, server = await dial(faulty_script(openai_faults.go_silent), openai_faults.blackhole)
    spoke_until = await after_the_greeting(call)
    await call.hear("apology", spoke_until, limit_s=8.0)
    assert call.ear.kinds() == ["agent", "holding", "apology"]
    assert call.ear.longest_silence(spoke_until) <= MAX_SILENCE_S  # measured: 2.56 s
    assert server.attempts == 2


# --- row 9: fatal errors never loop, the apology comes at once ----------------------------------


@pytest.mark.parametrize("fault", ["invalid_api_key", "insufficient_quota", "close-1008"])
async def test_fatal_error_mid_call_apologises_within_2_s(
    dial: Dial, clock: VirtualClock, fault: str
) -> None:
    fired: list[float] = []
    call, server = await dial(
        faulty_script(stamped(openai_faults.MID_CALL[fault], clock, fired)), faulty_script(None)
    )
    spoke_until = await after_the_greeting(call)
    apology = await call.hear("apology", spoke_until, limit_s=4.0)
    assert call.ear.kinds() == ["agent", "apology"]
    assert apology - fired[0] <= 2.0  # row 9; measured: 0.02 s (the next step)
    assert call.ear.longest_silence(spoke_until) <= MAX_SILENCE_S  # measured: 0.56 s
    assert server.attempts == 1


# --- row 11: the session cap ------------------------------------------------------------------


async def test_session_expired_recycles_with_a_gap_under_1_s_replaying_the_transcript(
    dial: Dial, clock: VirtualClock
) -> None:
    fired: list[float] = []
    expire = stamped(openai_faults.session_expired, clock, fired)
    call, server = await dial(faulty_script(expire), faulty_script(None))
    spoke_until = await after_the_greeting(call)
    answer = await call.hear("agent", spoke_until, limit_s=3.0)
    assert call.ear.kinds() == ["agent"]  # no holding line: the caller should not notice
    assert answer - fired[0] <= 1.0  # row 11; measured: 0.04 s
    replayed = [e["item"] for e in server.connections[1].received if "item" in e]
    texts = [part.get("text") or part.get("transcript") for i in replayed for part in i["content"]]
    assert texts == ["Hello, Acme here.", "(caller speech)"]
