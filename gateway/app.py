"""The aiohttp application: wiring, start-up (migrate, bootstrap) and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from config import Settings
from gateway.api.auth import api_middleware
from gateway.api.cors import KEY_ORIGINS, KeyOrigins, cors_middleware
from gateway.api.origins import ORIGINS, OriginPolicy
from gateway.api.routes import add_routes
from gateway.bootstrap import BootstrapResult, bootstrap
from gateway.context import CONTEXT, GatewayContext
from gateway.drain import end_live_sessions
from gateway.loop_lag import watch_loop_lag
from gateway.provider_setup import build_registry
from gateway.sessions.live import LiveSessions
from gateway.sessions.rest_chat import RestChats
from gateway.sessions.retention import TranscriptRetention
from gateway.sessions.runner import SessionRunner
from gateway.sessions.service import SessionService
from gateway.sessions.tools import WebhookTools
from gateway.sessions.transcripts import TranscriptWriter
from gateway.state.factory import build_shared_state
from gateway.state.ratelimit import RateLimiter
from gateway.store import Store
from gateway.telephony.routes import add_telephony_routes
from gateway.web.routes import add_web_routes
from kinds.clock import Clock, SystemClock
from providers.registry import ProviderRegistry

log = logging.getLogger(__name__)

BODY_LIMIT_BYTES = 64 * 1024  # REST bodies and webhooks are small; bigger ones get 413
EXPIRY_SWEEP_S = 15.0
BOOTSTRAP = web.AppKey("kura_bootstrap", list[BootstrapResult])


def _webhook_tools(settings: Settings, clock: Clock) -> WebhookTools:
    secret = settings.webhook_secret
    return WebhookTools(
        secret.get_secret_value().encode() if secret else None,
        clock,
        timeout_s=settings.webhook_timeout_s,
    )


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderRegistry | None = None,
    limiter: RateLimiter | None = None,
) -> GatewayContext:
    """Every service of one gateway node, not yet started (nothing is connected here)."""
    clock = clock or SystemClock()
    store = Store.open(settings.database_url)
    node_id = uuid.uuid4().hex[:12]
    shared = build_shared_state(settings, clock, node_id)
    registry = providers or build_registry(settings, clock)
    sessions = SessionService(
        store,
        clock,
        shared.bus,
        connect_timeout_s=settings.session_connect_timeout_s,
        token_ttl_s=settings.session_token_ttl_s,
        providers=registry,
    )
    live = LiveSessions(shared.directory, shared.bus, node_id)
    transcripts = TranscriptWriter(store.sessions)
    tools = _webhook_tools(settings, clock)
    runner = SessionRunner(
        store=store,
        service=sessions,
        providers=registry,
        transcripts=transcripts,
        live=live,
        clock=clock,
        tools=tools,
    )
    return GatewayContext(
        settings=settings,
        clock=clock,
        node_id=node_id,
        store=store,
        providers=registry,
        limiter=limiter or shared.limiter,
        shared=shared,
        sessions=sessions,
        runner=runner,
        rest_chats=RestChats(sessions, runner),
        live=live,
        transcripts=transcripts,
        tools=tools,
    )


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderRegistry | None = None,
    limiter: RateLimiter | None = None,
) -> web.Application:
    """The gateway app; the keyword arguments replace real parts in tests."""
    # CORS outermost: it adds its headers to every answer, errors and 429s included.
    middlewares = [cors_middleware, api_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=BODY_LIMIT_BYTES)
    ctx = build_context(settings, clock=clock, providers=providers, limiter=limiter)
    app[CONTEXT] = ctx
    app[ORIGINS] = OriginPolicy.create(settings.effective_public_url, settings.allowed_origins)
    app[KEY_ORIGINS] = KeyOrigins()
    app[BOOTSTRAP] = []
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_end_live_sessions)
    add_routes(app)
    add_telephony_routes(app)
    add_web_routes(app)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CONTEXT]
    await ctx.store.migrate()
    key = ctx.settings.bootstrap_api_key
    result = await bootstrap(
        ctx.store, ctx.clock, bootstrap_key=key.get_secret_value() if key else None
    )
    app[BOOTSTRAP].append(result)
    await _end_orphans(ctx)
    ctx.transcripts.start()
    ctx.shared.start(ctx.store)
    sweeper = asyncio.create_task(_sweep_expired(ctx), name="expiry-sweeper")
    lag = asyncio.create_task(watch_loop_lag(), name="loop-lag")
    tasks = [sweeper, lag]
    days = ctx.settings.transcript_retention_days
    if days is not None:
        retention = TranscriptRetention(ctx.store.sessions, ctx.clock, days)
        tasks.append(asyncio.create_task(retention.run(), name="transcript-retention"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ctx.drain.aclose()
        await ctx.rest_chats.aclose()
        await ctx.transcripts.aclose()
        await ctx.tools.aclose()
        await ctx.shared.aclose()
        await ctx.store.aclose()


async def _end_orphans(ctx: GatewayContext) -> None:
    """Without Redis the gateway is one node, so at start no session can be live: those still
    marked active were cut off by a crash, and nobody else will ever end them."""
    if ctx.settings.redis_url:
        return  # with Redis, live nodes sweep a lost node's sessions once its claims lapse
    ended = await ctx.store.sessions.end_all_active("node_restarted", ctx.clock.now())
    if ended:
        log.warning("ended sessions a previous run left active", extra={"count": ended})


async def _sweep_expired(ctx: GatewayContext) -> None:
    """Mark sessions nobody connected in time as expired, so listings stay truthful."""
    while True:
        try:
            await ctx.sessions.expire_due()
        except Exception:
            log.exception("expiry sweep failed")
        await ctx.clock.sleep(EXPIRY_SWEEP_S)


async def _end_live_sessions(app: web.Application) -> None:
    """On shutdown, end every live session cleanly and wait (bounded) for them to finish."""
    await end_live_sessions(app[CONTEXT])
