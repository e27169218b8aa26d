"""A session's wrap-up finishes even when its door's task is cancelled halfway through."""

from __future__ import annotations

import asyncio

import pytest

from gateway.sessions.wrap_up import complete_despite_cancel


async def test_wrap_up_completes_then_the_cancel_goes_on() -> None:
    steps: list[str] = []
    started = asyncio.Event()

    async def wrap_up() -> None:
        steps.append("provider released")
        started.set()
        await asyncio.sleep(0.05)  # the database write in flight when the cancel lands
        steps.append("session recorded as ended")

    door = asyncio.create_task(complete_despite_cancel(wrap_up()))
    await started.wait()
    door.cancel()
    door.cancel()  # a second cancel (e.g. server shutdown) changes nothing
    with pytest.raises(asyncio.CancelledError):
        await door
    assert steps == ["provider released", "session recorded as ended"]


async def test_wrap_up_errors_reach_the_caller() -> None:
    async def wrap_up() -> None:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        await complete_despite_cancel(wrap_up())
