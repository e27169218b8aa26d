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
from gateway.api.deadlines import body_deadline_middleware, handler_args
from gateway.api.origins import ORIGINS, OriginPolicy
from gateway.api.routes import add_routes
from gateway.bootstrap import BootstrapResult, bootstrap
from gateway.context import CONTEXT, GatewayContext
from gateway.drain import end_live_sessions
from gateway.loop_lag import watch_loop_lag
from gateway.provider_setup import build_registry
from gateway.sessions.event_delivery import EventDelivery
from gateway.sessions.events import PostCallEvents
from gateway.sessions.greeting_cache import GreetingCache, greeting_cache
from gateway.sessions.greeting_disk import GreetingDisk
from gateway.sessions.live import LiveSessions
from gateway.sessions.recording_retention import run_recording_sweeps
from gateway.sessions.recordings_setup import recording_storage
from gateway.sessions.rest_chat import RestChats
from gateway.sessions.retention import TranscriptRetention
from gateway.sessions.runner import SessionRunner
from gateway.sessions.service import SessionService
from gateway.sessions.tools import WebhookTools
from gateway.sessions.transcripts import TranscriptWriter
from gateway.state.control import ControlBus
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


def _session_service(
    settings: Settings, store: Store, clock: Clock, bus: ControlBus, registry: ProviderRegistry
) -> SessionService:
    return SessionService(
        store,
        clock,
        bus,
        connect_timeout_s=settings.session_connect_timeout_s,
        token_ttl_s=settings.session_token_ttl_s,
        providers=registry,
    )


def _post_call_events(
    settings: Settings, store: Store, clock: Clock, node_id: str
) -> tuple[PostCallEvents, EventDelivery]:
    """The events maker and this node's delivery worker (signed with the tools' secret)."""
    secret = settings.webhook_secret
    key = secret.get_secret_value().encode() if secret else None
    delivery = EventDelivery(
        store,
        clock,
        node_id,
        key,
        retry_base_s=settings.events_retry_base_s,
        give_up_s=settings.events_give_up_s,
        timeout_s=settings.webhook_timeout_s,
    )
    events = PostCallEvents(
        store,
        clock,
        public_url=settings.effective_public_url,
        enabled=key is not None,
        on_stored=delivery.wake,
    )
    return events, delivery


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
    sessions = _session_service(settings, store, clock, shared.bus, registry)
    live = LiveSessions(shared.directory, shared.bus, node_id)
    transcripts = TranscriptWriter(store.sessions)
    tools = _webhook_tools(settings, clock)
    events, delivery = _post_call_events(settings, store, clock, node_id)
    greetings = greeting_cache(settings.greeting_cache_mb)
    runner = SessionRunner(
        store=store,
        service=sessions,
        providers=registry,
        transcripts=transcripts,
        live=live,
        clock=clock,
        tools=tools,
        events=events,
        recordings=recording_storage(settings),
        greetings=greetings,
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
        events=events,
        event_delivery=delivery,
        greeting_disk=_greeting_disk(settings, greetings),
    )


def _greeting_disk(settings: Settings, cache: GreetingCache | None) -> GreetingDisk | None:
    directory = settings.greeting_cache_dir
    if cache is None or directory is None:
        return None
    return GreetingDisk(cache, directory, int(settings.greeting_cache_disk_mb * 1024 * 1024))


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderRegistry | None = None,
    limiter: RateLimiter | None = None,
) -> web.Application:
    """The gateway app; the keyword arguments replace real parts in tests."""
    # CORS outermost: it adds its headers to every answer, errors and 429s included.
    # The body deadline innermost: its 408/413 answers take the API's error shape.
    middlewares = [cors_middleware, api_middleware, body_deadline_middleware]
    app = web.Application(
        middlewares=middlewares,
        client_max_size=BODY_LIMIT_BYTES,
        handler_args=handler_args(settings),
    )
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


def _background_tasks(ctx: GatewayContext) -> list[asyncio.Task[None]]:
    """The node's periodic work: expiry and recording sweeps, loop-lag watch, post-call event
    delivery, and transcript retention when it is set."""
    sweeper = asyncio.create_task(_sweep_expired(ctx), name="expiry-sweeper")
    lag = asyncio.create_task(watch_loop_lag(), name="loop-lag")
    recordings = asyncio.create_task(_sweep_recordings(ctx), name="recording-sweeper")
    delivery = asyncio.create_task(ctx.event_delivery.run(), name="event-delivery")
    tasks: list[asyncio.Task[None]] = [sweeper, lag, recordings, delivery]
    days = ctx.settings.transcript_retention_days
    if days is not None:
        retention = TranscriptRetention(ctx.store.sessions, ctx.clock, days)
        tasks.append(asyncio.create_task(retention.run(), name="transcript-retention"))
    return tasks


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CONTEXT]
    await ctx.store.migrate()
    key = ctx.settings.bootstrap_api_key
    result = await bootstrap(
        ctx.store, ctx.clock, bootstrap_key=key.get_secret_value() if key else None
    )
    app[BOOTSTRAP].append(result)
    await _end_orphans(ctx)
    if ctx.greeting_disk is not None:
        await ctx.greeting_disk.start()
    ctx.transcripts.start()
    ctx.shared.start(ctx.store)
    tasks = _background_tasks(ctx)
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
        if ctx.greeting_disk is not None:
            await ctx.greeting_disk.aclose()
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


async def _sweep_recordings(ctx: GatewayContext) -> None:
    storage = ctx.runner.recordings
    if storage is not None:
        days = ctx.settings.recording_retention_days
        await run_recording_sweeps(ctx.store, storage, ctx.clock, days)


async def _end_live_sessions(app: web.Application) -> None:
    """On shutdown, end every live session cleanly and wait (bounded) for them to finish."""
    await app[CONTEXT].runner.early.aclose()
    await end_live_sessions(app[CONTEXT])
