"""Health: ``/api/v1/health`` (cheap, public), liveness and readiness for load balancers.

Readiness fails (503) when this node cannot serve: its database does not answer, or it is
draining. An unreachable Redis is reported but does not fail readiness: every node shares that
Redis, so failing them all would take the whole service down, while each node works on without
it (README, "Running several nodes").
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import text

from gateway.api.bodies import json_response
from gateway.context import GatewayContext, context_of

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0  # a check slower than this counts as down: probes have short timeouts

CheckState = Literal["ok", "down", "not_configured", "draining"]


class Liveness(BaseModel):
    status: Literal["ok"]
    node_id: str


class ReadinessChecks(BaseModel):
    database: CheckState
    redis: CheckState
    drain: CheckState


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "unavailable"]
    node_id: str
    checks: ReadinessChecks


async def liveness(request: web.Request) -> web.Response:
    """The process is up and its event loop answers; nothing else is checked."""
    return json_response(Liveness(status="ok", node_id=context_of(request).node_id))


async def readiness(request: web.Request) -> web.Response:
    """200 when this node should get traffic, 503 when not; each check named in the body."""
    ctx = context_of(request)
    database, redis = await asyncio.gather(_database(ctx), _redis(ctx))
    checks = ReadinessChecks(
        database=database, redis=redis, drain="draining" if ctx.drain.draining else "ok"
    )
    ready = database == "ok" and not ctx.drain.draining
    status: Literal["ready", "degraded", "unavailable"] = (
        "unavailable" if not ready else "degraded" if redis == "down" else "ready"
    )
    body = Readiness(status=status, node_id=ctx.node_id, checks=checks)
    return json_response(body, status=200 if ready else 503)


async def _database(ctx: GatewayContext) -> CheckState:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), ctx.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the type says which
        log.warning("readiness: database down", extra={"error": type(exc).__name__})
        return "down"
    return "ok"


async def _redis(ctx: GatewayContext) -> CheckState:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            answered = await ctx.shared.redis_ok()
    except TimeoutError:
        answered = False
    if answered is None:
        return "not_configured"
    return "ok" if answered else "down"
