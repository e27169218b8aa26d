"""The telephony parts of one gateway app, built once and stored under one ``AppKey``."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from aiohttp import web

from gateway.context import GatewayContext
from gateway.telephony.calls import CallService
from gateway.telephony.signatures import TwilioSignatures


@dataclass(frozen=True, slots=True)
class Telephony:
    signatures: TwilioSignatures | None
    """``None`` when no Twilio auth token is configured: the webhooks then answer 503."""
    calls: CallService


TELEPHONY = web.AppKey("kura_telephony", Telephony)


def build_telephony(ctx: GatewayContext) -> Telephony:
    settings = ctx.settings
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    # Media tokens are derived from a key every node shares, so any node can answer a retried
    # webhook with the same token. With no auth token the webhooks are off; any key will do.
    token_key = (
        hashlib.sha256(b"kura-media-token-key|" + token.encode()).digest()
        if token
        else secrets.token_bytes(32)
    )
    calls = CallService(
        ctx.store,
        ctx.sessions,
        ctx.clock,
        token_key=token_key,
        media_token_ttl_s=settings.call_media_token_ttl_s,
    )
    return Telephony(TwilioSignatures.from_settings(settings), calls)
