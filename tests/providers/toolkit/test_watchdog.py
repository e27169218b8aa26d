"""The stall watchdog: on time, silent when idle, probing at half time, one extra deadline."""

from __future__ import annotations

import asyncio

import pytest

from providers.toolkit.watchdog import Alarm, StallWatchdog
from tests.providers.toolkit.conftest import SteppingClock

STALL_S = 10.0


def watch(watchdog: StallWatchdog) -> asyncio.Task[Alarm]:
    return asyncio.create_task(watchdog.wait())


async def test_idle_it_sleeps_on_nothing_and_never_fires(clock: SteppingClock) -> None:
    watchdog = StallWatchdog(clock, STALL_S)
    task = watch(watchdog)
    await asyncio.sleep(0)
    assert clock.sleeper_count == 0  # no polling while nothing is armed
    await clock.advance(3600)
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_waiting_on_a_silent_provider_is_a_stall_at_exactly_the_timeout(
    clock: SteppingClock,
) -> None:
    watchdog = StallWatchdog(clock, STALL_S)
    task = watch(watchdog)
    watchdog.client_active()
    await clock.blocked(task)
    await clock.advance(9.9)
    assert not task.done()
    await clock.advance(0.1)
    assert await task == "stalled"


async def test_an_answer_stops_the_clock_and_more_client_activity_does_not_restart_it(
    clock: SteppingClock,
) -> None:
    watchdog = StallWatchdog(clock, STALL_S)
    task = watch(watchdog)
    watchdog.client_active()
    await clock.advance(6)
    watchdog.client_active()  # still the same wait: it started 6 s ago
    await clock.advance(3)
    watchdog.server_active()
    await clock.advance(30)
    assert not task.done()
    watchdog.client_active()
    await clock.blocked(task)
    await clock.advance(STALL_S)
    assert await task == "stalled"


async def test_a_probe_goes_out_once_at_half_time_and_an_answer_averts_the_stall(
    clock: SteppingClock,
) -> None:
    probed_at: list[float] = []
    watchdog: StallWatchdog

    async def probe() -> None:
        probed_at.append(clock.monotonic() - start_s)
        watchdog.server_active()  # a live server answers the probe

    watchdog = StallWatchdog(clock, STALL_S, probe=probe)
    start_s = clock.monotonic()
    task = watch(watchdog)
    watchdog.client_active()
    await clock.blocked(task)
    await clock.advance(5)  # the probe, answered at once: nothing is armed any more
    await clock.advance(15)
    assert probed_at == [pytest.approx(5.0)]
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_probe_that_gets_no_answer_ends_in_a_stall(clock: SteppingClock) -> None:
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1

    watchdog = StallWatchdog(clock, STALL_S, probe=probe)
    start_s = clock.monotonic()
    task = watch(watchdog)
    watchdog.client_active()
    assert await clock.run(task) == "stalled"
    assert probes == 1
    assert clock.monotonic() - start_s == pytest.approx(STALL_S)


async def test_a_deadline_fires_even_while_nothing_is_awaited(clock: SteppingClock) -> None:
    watchdog = StallWatchdog(clock, STALL_S)
    task = watch(watchdog)
    watchdog.deadline_at(clock.monotonic() + 25)
    await clock.blocked(task)
    await clock.advance(24.9)
    assert not task.done()
    await clock.advance(0.1)
    assert await task == "deadline"


async def test_an_earlier_deadline_wakes_a_watchdog_sleeping_towards_a_later_one(
    clock: SteppingClock,
) -> None:
    watchdog = StallWatchdog(clock, STALL_S)
    task = watch(watchdog)
    watchdog.client_active()  # a stall due in 10 s
    await clock.blocked(task)
    watchdog.deadline_at(clock.monotonic() + 2)
    await asyncio.sleep(0)
    await clock.advance(2)
    assert await task == "deadline"


async def test_an_alarm_or_a_reset_forgets_the_deadlines(clock: SteppingClock) -> None:
    watchdog = StallWatchdog(clock, STALL_S)
    watchdog.client_active()
    watchdog.deadline_at(clock.monotonic() + 1)
    assert await clock.run(watch(watchdog)) == "deadline"
    task = watch(watchdog)  # the stall that was also armed is gone with the alarm
    await asyncio.sleep(0)
    await clock.advance(60)
    assert not task.done()
    watchdog.client_active()
    watchdog.reset()
    await clock.advance(60)
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# Speech owed: "the provider says it is responding, and no audio comes" (issue #20).


async def test_owed_speech_that_never_comes_is_a_stall_even_from_a_chatty_server(
    clock: SteppingClock,
) -> None:
    watchdog = StallWatchdog(clock, STALL_S, audio_stall_s=2.0)
    task = watch(watchdog)
    watchdog.expect_audio()
    await clock.blocked(task)
    await clock.advance(1.0)
    watchdog.server_active()  # other messages (probe answers, transcripts) do not settle it
    await clock.advance(0.9)
    assert not task.done()
    await clock.advance(0.1)
    assert await task == "stalled"
    assert watchdog.owed_at_alarm and not watchdog.audio_owed  # forgotten, but remembered why


async def test_audio_settles_what_was_owed(clock: SteppingClock) -> None:
    watchdog = StallWatchdog(clock, STALL_S, audio_stall_s=2.0)
    task = watch(watchdog)
    watchdog.expect_audio()
    await clock.advance(1.5)
    watchdog.audio_arrived()
    await clock.advance(30)
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_without_an_audio_stall_time_nothing_is_owed(clock: SteppingClock) -> None:
    watchdog = StallWatchdog(clock, STALL_S)
    watchdog.expect_audio()
    assert not watchdog.audio_owed
