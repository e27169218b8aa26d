"""The telephony parts of one gateway app, built once and stored under one ``AppKey``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.context import GatewayContext
from gateway.telephony import twilio_codec
from gateway.telephony.calls import CallService
from gateway.telephony.carriers.registry import Carrier, HandshakeCheck, carrier_registry
from gateway.telephony.signatures import SIGNATURE_HEADER, TwilioSignatures


@dataclass(frozen=True, slots=True)
class Telephony:
    signatures: TwilioSignatures | None
    """``None`` when no Twilio auth token is configured: the webhooks then answer 503."""
    calls: CallService
    carriers: Mapping[str, Carrier]
    """The carriers whose media sockets we accept, by name (``/telephony/{carrier}/media``)."""


TELEPHONY = web.AppKey("kura_telephony", Telephony)


def twilio_carrier(signatures: TwilioSignatures | None) -> Carrier:
    """Twilio Media Streams: its codec, and its signature over the ``wss://`` Stream URL."""
    check: HandshakeCheck | None = None
    if signatures is not None:
        verified = signatures

        def check(headers: Mapping[str, str]) -> bool:
            return verified.media_handshake_is_valid(headers.get(SIGNATURE_HEADER))

    return Carrier(
        capabilities=twilio_codec.CAPABILITIES,
        decode=twilio_codec.decode,
        open_codec=twilio_codec.TwilioCodec.for_stream,
        handshake=check,
        title="Twilio",
        config_hint="KURA_TWILIO_AUTH_TOKEN",
    )


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
    signatures = TwilioSignatures.from_settings(settings)
    return Telephony(signatures, calls, carrier_registry(twilio_carrier(signatures)))
