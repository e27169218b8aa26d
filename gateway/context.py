"""Everything a request handler needs, built once per app and stored under one ``AppKey``."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from config import Settings
from gateway.drain_state import DrainState
from gateway.sessions.event_delivery import EventDelivery
from gateway.sessions.events import PostCallEvents
from gateway.sessions.greeting_disk import GreetingDisk
from gateway.sessions.live import LiveSessions
from gateway.sessions.rest_chat import RestChats
from gateway.sessions.runner import SessionRunner
from gateway.sessions.service import SessionService
from gateway.sessions.tools import WebhookTools
from gateway.sessions.transcripts import TranscriptWriter
from gateway.state.factory import SharedState
from gateway.state.ratelimit import RateLimiter
from gateway.store import Store
from kinds.clock import Clock
from providers.registry import ProviderRegistry


@dataclass(slots=True)
class GatewayContext:
    settings: Settings
    clock: Clock
    node_id: str
    store: Store
    providers: ProviderRegistry
    limiter: RateLimiter
    sessions: SessionService
    runner: SessionRunner
    live: LiveSessions
    transcripts: TranscriptWriter
    tools: WebhookTools
    shared: SharedState
    events: PostCallEvents
    event_delivery: EventDelivery
    rest_chats: RestChats
    drain: DrainState = field(default_factory=DrainState)
    greeting_disk: GreetingDisk | None = None
    """The greeting cache's files (``KURA_GREETING_CACHE_DIR``), read at start."""


CONTEXT = web.AppKey("kura_context", GatewayContext)


def context_of(request: web.Request) -> GatewayContext:
    return request.app[CONTEXT]
