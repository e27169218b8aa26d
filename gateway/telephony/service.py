"""The telephony parts of one gateway app, built once and stored under one ``AppKey``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from config import Settings
from gateway.context import GatewayContext
from gateway.telephony import telnyx_codec, twilio_codec
from gateway.telephony.calls import CallService
from gateway.telephony.carriers.registry import Carrier, HandshakeCheck, carrier_registry
from gateway.telephony.signatures import SIGNATURE_HEADER, TwilioSignatures
from gateway.telephony.telnyx_signatures import TelnyxSignatures


@dataclass(frozen=True, slots=True)
class Telephony:
    signatures: TwilioSignatures | None
    """``None`` when no Twilio auth token is configured: the webhooks then answer 503."""
    calls: CallService
    telnyx: TelnyxSignatures | None
    """``None`` when no Telnyx public key is configured: its webhooks then answer 503."""
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


def telnyx_carrier(signatures: TelnyxSignatures | None) -> Carrier:
    """Telnyx media streaming. Its WebSocket upgrade carries no signature (a Call Control
    ``stream_auth_token`` header exists, but TeXML's ``<Stream>`` has none), so the proof is
    the single-use media token in the start event's custom parameters, checked before any
    provider is contacted; the door is open only once Telnyx is configured."""
    check: HandshakeCheck | None = None
    if signatures is not None:

        def check(headers: Mapping[str, str]) -> bool:
            return True

    return Carrier(
        capabilities=telnyx_codec.CAPABILITIES,
        decode=telnyx_codec.decode,
        open_codec=telnyx_codec.TelnyxCodec.for_stream,
        handshake=check,
        title="Telnyx",
        config_hint="KURA_TELNYX_PUBLIC_KEY",
    )


def _token_key(settings: Settings) -> bytes:
    """The key media tokens are derived from: from secrets every node shares, so any node can
    answer a retried webhook with the same token. With no carrier secret, any key will do.
    (Twilio-only deployments keep the key they had.)"""
    secrets_in_use = [
        secret.get_secret_value()
        for secret in (settings.twilio_auth_token, settings.telnyx_api_key)
        if secret is not None and secret.get_secret_value()
    ]
    if not secrets_in_use:
        return secrets.token_bytes(32)
    return hashlib.sha256(b"kura-media-token-key|" + "|".join(secrets_in_use).encode()).digest()


def build_telephony(ctx: GatewayContext) -> Telephony:
    settings = ctx.settings
    calls = CallService(
        ctx.store,
        ctx.sessions,
        ctx.clock,
        token_key=_token_key(settings),
        media_token_ttl_s=settings.call_media_token_ttl_s,
        events=ctx.events,
    )
    signatures = TwilioSignatures.from_settings(settings)
    telnyx = TelnyxSignatures.from_settings(settings, ctx.clock)
    carriers = carrier_registry(twilio_carrier(signatures), telnyx_carrier(telnyx))
    return Telephony(signatures, calls, telnyx, carriers)
