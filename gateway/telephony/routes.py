"""Carrier webhooks. They are not part of the public REST API (nor of its OpenAPI document):
carriers call them, signed with the carrier's own credentials, not with Kura API keys."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from gateway import metrics, tracing
from gateway.context import CONTEXT
from gateway.telephony import (
    outbound_webhooks,
    plivo_outbound,
    plivo_signatures,
    plivo_webhooks,
    signalwire,
    telnyx_outbound,
    telnyx_signatures,
    telnyx_webhooks,
    twilio_webhooks,
    vonage_outbound,
    vonage_signatures,
    vonage_webhooks,
)
from gateway.telephony.media_socket import MEDIA_ROUTE, media_stream
from gateway.telephony.plivo_dialer import PLIVO_PATHS
from gateway.telephony.service import TELEPHONY, build_telephony
from gateway.telephony.signalwire_webhooks import SIGNALWIRE
from gateway.telephony.signatures import ACTION_PATH, STATUS_PATH, VOICE_PATH
from gateway.telephony.telnyx_dialer import TELNYX_OUTBOUND_EVENTS_PATH
from gateway.telephony.transfer_webhooks import add_transfer_routes
from gateway.telephony.vonage_dialer import VONAGE_PATHS
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

    async def land_late_work(_app: web.Application) -> None:
        await telephony.late.aclose()  # on shutdown: before the cleanup closes the store

    app.on_shutdown.append(land_late_work)
    if telephony.signatures is None:
        log.warning("twilio webhooks will answer 503: KURA_TWILIO_AUTH_TOKEN is not set")
    app.router.add_post(VOICE_PATH, _timed("voice", twilio_webhooks.voice))
    app.router.add_post(STATUS_PATH, _timed("status", twilio_webhooks.status))
    app.router.add_post(ACTION_PATH, _timed("action", twilio_webhooks.after_stream))
    add_transfer_routes(app, _timed)
    for door in outbound_webhooks.OUTBOUND_DOORS:
        carrier, paths = door.door.carrier, door.paths
        app.router.add_post(paths.answer, _timed("outbound_answer", door.answered, carrier))
        app.router.add_post(paths.status, _timed("outbound_status", door.progress, carrier))
        app.router.add_post(paths.amd, _timed("outbound_amd", door.machine_verdict, carrier))
    app.cleanup_ctx.append(_telephony_lifecycle)
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
    app.router.add_post(
        telnyx_signatures.ACTION_PATH, _timed("action", telnyx_webhooks.after_stream, "telnyx")
    )
    app.router.add_post(
        TELNYX_OUTBOUND_EVENTS_PATH, _timed("outbound_events", telnyx_outbound.events, "telnyx")
    )
    _add_compat_routes(app)
    _add_vonage_routes(app)
    # Every registered carrier's media socket; Twilio's is its MEDIA_PATH.
    app.router.add_get(MEDIA_ROUTE, media_stream)


def _add_compat_routes(app: web.Application) -> None:
    """SignalWire's Twilio-compatible doors and Plivo's."""
    telephony = app[TELEPHONY]
    if telephony.signalwire is None:
        log.warning("signalwire webhooks will answer 503: KURA_SIGNALWIRE_TOKEN is not set")
    app.router.add_post(signalwire.VOICE_PATH, _timed("voice", SIGNALWIRE.voice, "signalwire"))
    app.router.add_post(signalwire.STATUS_PATH, _timed("status", SIGNALWIRE.status, "signalwire"))
    app.router.add_post(
        signalwire.ACTION_PATH, _timed("action", SIGNALWIRE.after_stream, "signalwire")
    )
    if telephony.plivo is None:
        log.warning("plivo webhooks will answer 503: KURA_PLIVO_AUTH_TOKEN is not set")
    for name, path, handler in (
        ("voice", plivo_signatures.VOICE_PATH, plivo_webhooks.voice),
        ("status", plivo_signatures.STATUS_PATH, plivo_webhooks.status),
        ("action", plivo_signatures.ACTION_PATH, plivo_webhooks.after_stream),
        ("outbound_answer", PLIVO_PATHS.answer, plivo_outbound.answered),
        ("outbound_status", PLIVO_PATHS.status, plivo_outbound.progress),
        ("outbound_amd", PLIVO_PATHS.amd, plivo_outbound.machine_verdict),
    ):
        app.router.add_post(path, _timed(name, handler, "plivo"))


async def _telephony_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """On the way out, stop the call deadlines and close the carrier's REST client: before the
    store closes (cleanup contexts unwind in reverse), so no deadline is cut mid-write."""
    yield
    await app[TELEPHONY].aclose()


def _add_vonage_routes(app: web.Application) -> None:
    """Vonage's answer webhook (GET by default, POST if so set) and its event webhook."""
    telephony = app[TELEPHONY]
    if telephony.vonage is None:
        log.warning("vonage webhooks will answer 503: KURA_VONAGE_SIGNATURE_SECRET is not set")
    elif telephony.vonage_api is None:
        log.warning(
            "vonage calls cannot be transferred: KURA_VONAGE_APPLICATION_ID and "
            "KURA_VONAGE_PRIVATE_KEY_PATH are not both set"
        )
    voice = _timed("voice", vonage_webhooks.voice, "vonage")
    app.router.add_get(vonage_signatures.VOICE_PATH, voice)
    app.router.add_post(vonage_signatures.VOICE_PATH, voice)
    app.router.add_post(
        vonage_signatures.STATUS_PATH, _timed("status", vonage_webhooks.status, "vonage")
    )
    answer = _timed("outbound_answer", vonage_outbound.answered, "vonage")
    app.router.add_get(VONAGE_PATHS.answer, answer)
    app.router.add_post(VONAGE_PATHS.answer, answer)
    app.router.add_post(
        VONAGE_PATHS.status, _timed("outbound_status", vonage_outbound.progress, "vonage")
    )
