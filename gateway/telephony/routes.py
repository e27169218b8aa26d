"""Carrier webhooks. They are not part of the public REST API (nor of its OpenAPI document):
carriers call them, signed with the carrier's own credentials, not with Kura API keys."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.context import CONTEXT
from gateway.telephony import twilio_webhooks
from gateway.telephony.media_socket import media_stream
from gateway.telephony.service import TELEPHONY, build_telephony
from gateway.telephony.signatures import ACTION_PATH, MEDIA_PATH, STATUS_PATH, VOICE_PATH

log = logging.getLogger(__name__)


def add_telephony_routes(app: web.Application) -> None:
    """Build the telephony services for ``app`` and route the carrier webhooks to them."""
    telephony = build_telephony(app[CONTEXT])
    app[TELEPHONY] = telephony
    if telephony.signatures is None:
        log.warning("twilio webhooks will answer 503: KURA_TWILIO_AUTH_TOKEN is not set")
    app.router.add_post(VOICE_PATH, twilio_webhooks.voice)
    app.router.add_post(STATUS_PATH, twilio_webhooks.status)
    app.router.add_post(ACTION_PATH, twilio_webhooks.after_stream)
    app.router.add_get(MEDIA_PATH, media_stream)
