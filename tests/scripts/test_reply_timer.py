"""The fakes' one reply timer: due order, cancellation, and a failing action skipped."""

from __future__ import annotations

import asyncio

from tests.fakes.reply_timer import Action, ReplyTimer


async def test_actions_run_in_due_order_and_cancelled_ones_never() -> None:
    timer = ReplyTimer()
    timer.start()
    ran: list[str] = []
    done = asyncio.get_running_loop().create_future()

    def record(name: str) -> Action:
        async def action() -> None:
            ran.append(name)
            if name == "last":
                done.set_result(None)

        return action

    async def broken() -> None:
        raise ConnectionResetError  # its client left: skipped, the timer goes on

    try:
        timer.call_later(0.03, record("last"))
        timer.call_later(0.01, broken)
        cancelled = timer.call_later(0.0, record("cancelled"))
        timer.call_later(0.02, record("second"))
        timer.call_later(0.0, record("first"))
        assert cancelled.cancel()
        async with asyncio.timeout(5):
            await done
    finally:
        await timer.stop()
    assert ran == ["first", "second", "last"]
    assert not cancelled.started
