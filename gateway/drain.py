"""Graceful drain: on SIGTERM a node stops taking new work, lets live sessions run on to a
deadline, ends the rest with reason ``shutdown``, and then stops (exit 0).

While draining, new sessions, session connects and incoming calls get 503 (a carrier then uses
its fallback URL; a client retries and the load balancer sends it elsewhere), and readiness
answers 503 so the load balancer stops routing here. Transcripts are flushed by the app's
cleanup, which runs once the drain has stopped the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.errors import Unavailable

if TYPE_CHECKING:
    from gateway.context import GatewayContext

log = logging.getLogger(__name__)

DRAIN_POLL_S = 0.1  # how often the drain looks at the count of live sessions
SHUTDOWN_GRACE_S = 10.0  # once told to end, sessions get this long to close their sockets


class DrainState:
    """Whether this node is draining, and the drain task (owned here, cancelled on stop)."""

    def __init__(self) -> None:
        self.draining = False
        self._task: asyncio.Task[None] | None = None

    def refuse_new(self, what: str) -> None:
        """Raise 503 ``unavailable`` if this node is draining."""
        if self.draining:
            raise Unavailable(
                f"this gateway node is shutting down and takes no new {what}: retry, "
                "and another node will answer"
            )

    def on_sigterm(self, ctx: GatewayContext) -> None:
        """The SIGTERM handler: start draining; a second SIGTERM stops at once."""
        if self._task is not None:
            log.warning("second SIGTERM: stopping without waiting for live sessions")
            raise web.GracefulExit()
        self._task = asyncio.create_task(_drain_then_stop(ctx), name="drain")

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def drain(ctx: GatewayContext) -> None:
    """Refuse new work, wait up to ``drain_timeout_s`` for live sessions to end by themselves,
    then end the rest with reason ``shutdown`` and wait (bounded) for them to close."""
    ctx.drain.draining = True
    timeout_s = ctx.settings.drain_timeout_s
    log.info("draining", extra={"live_sessions": len(ctx.live), "timeout_s": timeout_s})
    deadline = ctx.clock.monotonic() + timeout_s
    while len(ctx.live) and ctx.clock.monotonic() < deadline:
        await ctx.clock.sleep(DRAIN_POLL_S)
    await end_live_sessions(ctx)


async def end_live_sessions(ctx: GatewayContext) -> None:
    """End every live session with reason ``shutdown`` and wait (bounded) for them to finish."""
    ctx.drain.draining = True
    if len(ctx.live):
        log.info("ending live sessions", extra={"live_sessions": len(ctx.live)})
    ctx.live.end_all("shutdown")
    for _ in range(int(SHUTDOWN_GRACE_S / 0.05)):
        if not len(ctx.live):
            return
        await asyncio.sleep(0.05)


async def _drain_then_stop(ctx: GatewayContext) -> None:
    try:
        await drain(ctx)
    except Exception:
        log.exception("drain failed; stopping anyway")
    # What aiohttp's own SIGTERM handler does: unwind run_app, which runs the app's shutdown
    # and cleanup (transcripts flushed, connections closed) and returns, so `kura` exits 0.
    asyncio.get_running_loop().call_soon(_raise_graceful_exit)


def _raise_graceful_exit() -> None:
    raise web.GracefulExit()


def drain_on_sigterm(app: web.Application, ctx: GatewayContext) -> None:
    """Make SIGTERM drain this app (for ``kura serve``; SIGINT still stops at once).

    Installed from ``on_startup``, which runs after ``run_app`` sets its own handlers, so this
    one replaces aiohttp's for SIGTERM only."""

    async def install(_app: web.Application) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, ctx.drain.on_sigterm, ctx)

    app.on_startup.append(install)
