"""Carrier webhooks. They are not part of the public REST API (nor of its OpenAPI document):
carriers call them, signed with the carrier's own credentials, not with Kura API keys."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway import metrics, tracing
from gateway.context import CONTEXT
from gateway.telephony import telnyx_signatures, telnyx_webhooks, twilio_webhooks
from gateway.telephony.media_socket import MEDIA_ROUTE, media_stream
from gateway.telephony.service import TELEPHONY, build_telephony
from gateway.telephony.signatures import ACTION_PATH, STATUS_PATH, VOICE_PATH
from media import denoise

log = logging.getLogger(__name__)


Webhook = Callable[[web.Request], Awaitable[web.Response]]


def _timed(name: str, handler: Webhook, carrier: str = "twilio") -> Webhook:
    """Record how long the carrier waits for our answer (the webhook latency metric, labelled
    ``<name>`` for Twilio as ever, ``<carrier>_<name>`` for the others), and trace it (span
    ``<carrier>.<name>``; the handler adds the call SID and session id)."""
    latency = metrics.WEBHOOK_LATENCY.labels(name if carrier == "twilio" else f"{carrier}_{name}")
    span_name = f"{carrier}.{name}"

    @functools.wraps(handler)
    async def timed(request: web.Request) -> web.Response:
        started_s = time.perf_counter()
        try:
            with tracing.span(span_name, carrier=carrier):
                return await handler(request)
        finally:
            latency.observe(time.perf_counter() - started_s)

    return timed


def add_telephony_routes(app: web.Application) -> None:
    """Build the telephony services for ``app`` and route the carrier webhooks to them."""
    telephony = build_telephony(app[CONTEXT])
    app[TELEPHONY] = telephony
    if telephony.signatures is None:
        log.warning("twilio webhooks will answer 503: KURA_TWILIO_AUTH_TOKEN is not set")
    app.router.add_post(VOICE_PATH, _timed("voice", twilio_webhooks.voice))
    app.router.add_post(STATUS_PATH, _timed("status", twilio_webhooks.status))
    app.router.add_post(ACTION_PATH, _timed("action", twilio_webhooks.after_stream))
    if telephony.telnyx is None:
        log.warning("telnyx webhooks will answer 503: KURA_TELNYX_PUBLIC_KEY is not set")
    if app[CONTEXT].settings.call_noise_suppression and not denoise.AVAILABLE:
        log.warning("calls run without noise suppression: speexdsp-ns is not installed")
    app.router.add_post(
        telnyx_signatures.VOICE_PATH, _timed("voice", telnyx_webhooks.voice, "telnyx")
    )
    app.router.add_post(
        telnyx_signatures.STATUS_PATH, _timed("status", telnyx_webhooks.status, "telnyx")
    )
    # Every registered carrier's media socket; Twilio's is its MEDIA_PATH.
    app.router.add_get(MEDIA_ROUTE, media_stream)
