"""Graceful drain: on SIGTERM a node stops taking new work, lets live sessions run on to a
deadline, ends the rest with reason ``shutdown``, and then stops (exit 0).

While draining, new sessions, session connects and incoming calls get 503 (a carrier then uses
its fallback URL; a client retries and the load balancer sends it elsewhere), and readiness
answers 503 so the load balancer stops routing here. Transcripts are flushed by the app's
cleanup, which runs once the drain has stopped the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from gateway.context import GatewayContext

log = logging.getLogger(__name__)

DRAIN_POLL_S = 0.1  # how often the drain looks at the count of live sessions
SHUTDOWN_GRACE_S = 10.0  # once told to end, sessions get this long to close their sockets


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
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, ctx.drain.on_sigterm, lambda: _drain_then_stop(ctx)
        )

    app.on_startup.append(install)
