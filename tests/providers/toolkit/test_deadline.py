"""Time-outs and races on the injected clock: nothing is left running afterwards."""

from __future__ import annotations

import asyncio

import pytest

from providers.toolkit.deadline import within
from providers.toolkit.race import first_of
from tests.providers.toolkit.conftest import SteppingClock


async def test_within_returns_the_result_of_work_that_finishes_in_time(
    clock: SteppingClock,
) -> None:
    async def work() -> str:
        await clock.sleep(1.0)
        return "done"

    task = asyncio.create_task(within(clock, 2.0, work()))
    assert await clock.run(task) == "done"
    assert clock.monotonic() == pytest.approx(1001.0)
    assert clock.sleeper_count == 0  # the timer is gone


async def test_within_times_out_on_the_clock_and_cancels_the_work(clock: SteppingClock) -> None:
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    started_s = clock.monotonic()
    task = asyncio.create_task(within(clock, 3.0, forever()))
    with pytest.raises(TimeoutError):
        await clock.run(task)
    assert clock.monotonic() - started_s == pytest.approx(3.0)
    assert cancelled.is_set()


async def test_cancelling_within_cancels_the_work(clock: SteppingClock) -> None:
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    task = asyncio.create_task(within(clock, 3.0, forever()))
    await clock.blocked(task)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set() and clock.sleeper_count == 0


async def test_first_of_returns_the_first_result_and_cancels_the_others(
    clock: SteppingClock,
) -> None:
    cancelled: list[str] = []

    async def after(delay_s: float, name: str) -> str:
        try:
            await clock.sleep(delay_s)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return name

    task = asyncio.create_task(first_of(after(5, "slow"), after(1, "fast"), after(9, "slower")))
    assert await clock.run(task) == "fast"
    assert sorted(cancelled) == ["slow", "slower"]


async def test_first_of_raises_what_the_first_to_finish_raised() -> None:
    async def fail() -> str:
        raise ValueError("first")

    async def never() -> str:
        await asyncio.Event().wait()
        return "never"

    with pytest.raises(ValueError, match="first"):
        await first_of(never(), fail())
