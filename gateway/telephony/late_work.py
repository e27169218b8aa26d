"""Carrier webhooks answer within their deadline, even when the database stalls.

Twilio waits 15 s for an answer and then plays its own error to the caller (11200); Telnyx is
as impatient. So the store work behind a status or ``<Connect action>`` callback runs in a task
the webhook waits on for at most ``KURA_WEBHOOK_ANSWER_DEADLINE_S``: past it, the webhook
answers a degraded document at once and the work goes on here, in the background, until it
completes (logged ``webhook work completed late``) or fails (logged with the call SID, so
nothing is lost silently). A database error inside the deadline is a degraded answer too,
never a 500. ``aclose`` (on shutdown, before the store closes) gives late work a bounded
grace, then cancels what is left, logging each one abandoned.

    Overdue                 what a webhook got instead of its result
    ├── reason "late"       the deadline passed; the work goes on in the background
    └── reason "failed"     the work raised (a database error); logged, not retried
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTDOWN_GRACE_S = 2.0  # late work gets this long to land when the node stops (drain + 5 s)


@dataclass(frozen=True, slots=True)
class Overdue:
    """The webhook's work did not give a result in time (``late``) or at all (``failed``)."""

    reason: Literal["late", "failed"]


class LateWork:
    """Runs webhook work under a deadline and owns the work that overruns it."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    async def run(
        self, work: Coroutine[Any, Any, T], *, deadline_s: float, what: str, call_sid: str
    ) -> T | Overdue:
        """``work``'s result, or ``Overdue`` once ``deadline_s`` has passed or it failed.
        A client error (a ``GatewayError`` under 500: 403, 404, …) is raised as ever."""
        task = asyncio.create_task(work, name=f"webhook-{what}")
        try:
            done, _ = await asyncio.wait({task}, timeout=deadline_s)
        except asyncio.CancelledError:
            self._adopt(task, what, call_sid)  # the carrier hung up; the work still counts
            raise
        if not done:
            log.warning(
                "webhook work over its deadline; finishing it in the background",
                extra={"webhook": what, "call_sid": call_sid, "deadline_s": deadline_s},
            )
            self._adopt(task, what, call_sid)
            return Overdue("late")
        error = task.exception()
        if error is None:
            return task.result()
        if isinstance(error, GatewayError) and error.status < 500:
            raise error
        log.error(
            "webhook work failed; answering a degraded document",
            extra={"webhook": what, "call_sid": call_sid},
            exc_info=error,
        )
        return Overdue("failed")

    def _adopt(self, task: asyncio.Task[Any], what: str, call_sid: str) -> None:
        self._tasks.add(task)

        def landed(done: asyncio.Task[Any]) -> None:
            self._tasks.discard(done)
            fields = {"webhook": what, "call_sid": call_sid}
            if done.cancelled():
                log.error("late webhook work abandoned", extra=fields)
            elif (error := done.exception()) is not None:
                log.error("late webhook work failed", extra=fields, exc_info=error)
            else:
                log.info("webhook work completed late", extra=fields)

        task.add_done_callback(landed)

    def abandon(self, task: asyncio.Task[Any]) -> None:
        """Cancel work whose caller no longer waits for it, and own it until it has unwound:
        a query stuck in SQLite's busy_timeout holds its driver thread, and so the task, for
        up to that long after the cancel."""
        task.cancel()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Return once no late work is left (each has completed, failed or been cancelled)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Give late work ``grace_s`` to land, then cancel the rest and wait for it."""
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, still = await asyncio.wait(pending, timeout=grace_s)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
