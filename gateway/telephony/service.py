"""The telephony parts of one gateway app, built once and stored under one ``AppKey``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from config import Settings
from gateway.context import CONTEXT, GatewayContext
from gateway.telephony import plivo_codec, signalwire, telnyx_codec, twilio_codec, vonage_codec
from gateway.telephony.after_stream import AfterStream
from gateway.telephony.call_deadlines import CallDeadlines
from gateway.telephony.call_limits import CallLimits
from gateway.telephony.calls import CallOverHook, CallService
from gateway.telephony.carriers.registry import (
    AfterCall,
    Carrier,
    HandshakeCheck,
    carrier_registry,
)
from gateway.telephony.compat_dialer import CompatDialer, OutboundPaths, compat_capabilities
from gateway.telephony.dialing import CarrierDialer
from gateway.telephony.late_work import LateWork, Overdue
from gateway.telephony.outbound import OutboundCalls
from gateway.telephony.outbound_progress import OutboundProgress
from gateway.telephony.plivo_dialer import PlivoDialer
from gateway.telephony.plivo_legs import PlivoLegs
from gateway.telephony.plivo_signatures import PlivoSignatures
from gateway.telephony.signatures import SIGNATURE_HEADER, TWILIO_PREFIX, TwilioSignatures
from gateway.telephony.telnyx_dialer import TelnyxDialer, telnyx_after_call
from gateway.telephony.telnyx_legs import TexmlLegs
from gateway.telephony.telnyx_rest import TelnyxCallControl
from gateway.telephony.telnyx_signatures import TelnyxSignatures
from gateway.telephony.transfer import LiveTransfers
from gateway.telephony.transfer_flow import caller_left
from gateway.telephony.transfer_legs import CompatLegs, TransferLegs
from gateway.telephony.twilio_rest import TwilioRest
from gateway.telephony.vonage_calls import vonage_after_call
from gateway.telephony.vonage_dialer import VonageDialer
from gateway.telephony.vonage_legs import VonageLegs
from gateway.telephony.vonage_rest import VonageVoiceApi
from gateway.telephony.vonage_signatures import VonageSignatures


@dataclass(frozen=True, slots=True)
class Telephony:
    signatures: TwilioSignatures | None
    """``None`` when no Twilio auth token is configured: the webhooks then answer 503."""
    calls: CallService
    telnyx: TelnyxSignatures | None
    """``None`` when no Telnyx public key is configured: its webhooks then answer 503."""
    carriers: Mapping[str, Carrier]
    """The carriers whose media sockets we accept, by name (``/telephony/{carrier}/media``)."""
    outbound: OutboundCalls
    progress: OutboundProgress
    deadlines: CallDeadlines
    late: LateWork
    """Webhook work that overran its answer deadline, finishing in the background."""
    signalwire: TwilioSignatures | None = None
    """``None`` when no SignalWire signing key is configured: its webhooks then answer 503."""
    plivo: PlivoSignatures | None = None
    """``None`` when no Plivo auth token is configured: its webhooks then answer 503."""
    vonage: VonageSignatures | None = None
    """``None`` when no Vonage signature secret is configured: its webhooks then answer 503."""
    vonage_api: VonageVoiceApi | None = None
    """Vonage's Voice REST API (hang-up, transfer); ``None`` without the application's key."""
    transfers: LiveTransfers = field(default_factory=LiveTransfers)
    """The warm transfers in play on this node, for their legs' webhooks."""
    telnyx_legs: TexmlLegs | None = None
    """Warm transfers' legs on Telnyx (TeXML calls); ``None`` without the settings they need."""

    def puts_through(self, carrier: str) -> bool:
        """Whether a call on ``carrier`` can be put through to a number once the assistant is
        done (a cold transfer): not on Vonage without its application key, whose calls are
        steered only through the REST API."""
        return carrier != "vonage" or self.vonage_api is not None

    def transfer_legs(self, carrier: str) -> TransferLegs | None:
        """How warm transfers ring and steer the human's leg on ``carrier``: through its
        outbound dialer's REST client (Twilio, SignalWire, Plivo, Vonage) or the TeXML Calls API
        (Telnyx);
        ``None`` where there is none (its REST settings unset, or no warm transfers on it)."""
        if carrier == "telnyx":
            return self.telnyx_legs
        if carrier == "vonage":
            if self.vonage_api is None or self.vonage is None:
                return None
            return VonageLegs(self.vonage_api, self.vonage)
        dialer = self.outbound.dialers.get(carrier)
        if isinstance(dialer, PlivoDialer) and self.plivo is not None:
            return PlivoLegs(dialer, self.plivo)
        if not isinstance(dialer, CompatDialer):
            return None
        return CompatLegs(carrier, dialer.rest, dialer.signatures, dialer.paths.prefix)

    async def aclose(self) -> None:
        await self.deadlines.aclose()
        for dialer in self.outbound.dialers.values():
            await dialer.aclose()
        if self.vonage_api is not None:
            await self.vonage_api.close()
        if self.telnyx_legs is not None:
            await self.telnyx_legs.aclose()


TELEPHONY = web.AppKey("kura_telephony", Telephony)


async def after_stream_in_time(
    request: web.Request, call_sid: str, carrier: str
) -> AfterStream | Overdue:
    """What follows the call's closed stream, as every carrier's action webhook asks: within the
    answer deadline, else ``Overdue`` (the work carries on in the background)."""
    telephony = request.app[TELEPHONY]
    return await telephony.late.run(
        telephony.calls.after_stream(call_sid),
        deadline_s=request.app[CONTEXT].settings.webhook_answer_deadline_s,
        what=f"{carrier}_action",
        call_sid=call_sid,
    )


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


def telnyx_carrier(signatures: TelnyxSignatures | None, after_call: AfterCall) -> Carrier:
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
        after_call=after_call,
    )


def _open_door(configured: bool) -> HandshakeCheck | None:
    """A media door whose upgrade carries no signature we can check: open once the carrier is
    configured, the single-use media token in the start event being the proof (checked before
    any provider is contacted); ``None`` (503) while it is not."""
    if not configured:
        return None

    def check(headers: Mapping[str, str]) -> bool:
        return True

    return check


def signalwire_carrier(signatures: TwilioSignatures | None) -> Carrier:
    """SignalWire's media streams: Twilio's codec. SignalWire documents no signature on the
    socket's upgrade, so the media token proves the stream (as for Telnyx)."""
    return Carrier(
        capabilities=signalwire.CAPABILITIES,
        decode=signalwire.decode,
        open_codec=signalwire.open_codec,
        handshake=_open_door(signatures is not None),
        title="SignalWire",
        config_hint="KURA_SIGNALWIRE_TOKEN",
    )


def plivo_carrier(signatures: PlivoSignatures | None) -> Carrier:
    """Plivo Audio Streams. Plivo documents no signature on the socket's upgrade: the media
    token in the start event's ``extra_headers`` proves the stream."""
    return Carrier(
        capabilities=plivo_codec.CAPABILITIES,
        decode=plivo_codec.decode,
        open_codec=plivo_codec.PlivoCodec.for_stream,
        handshake=_open_door(signatures is not None),
        title="Plivo",
        config_hint="KURA_PLIVO_AUTH_TOKEN",
    )


def vonage_carrier(signatures: VonageSignatures | None, after_call: AfterCall) -> Carrier:
    """Vonage's websocket. Its upgrade carries no signature of ours (the NCCO could ask for a
    Vonage JWT, signed by Vonage's own key), so, as for Telnyx, the proof is the single-use media
    token that comes back in the first message's headers, checked before any provider is
    contacted; the door is open only once Vonage is configured."""
    return Carrier(
        capabilities=vonage_codec.CAPABILITIES,
        decode=vonage_codec.decode,
        open_codec=vonage_codec.VonageCodec.for_stream,
        handshake=_open_door(signatures is not None),
        title="Vonage",
        config_hint="KURA_VONAGE_SIGNATURE_SECRET",
        after_call=after_call,
    )


def _token_key(settings: Settings) -> bytes:
    """The key media tokens are derived from: from secrets every node shares, so any node can
    answer a retried webhook with the same token. With no carrier secret, any key will do.
    (Twilio-only deployments keep the key they had.)"""
    secrets_in_use = [
        secret.get_secret_value()
        for secret in (
            settings.twilio_auth_token,
            settings.telnyx_api_key,
            settings.signalwire_token,
            settings.plivo_auth_token,
            settings.vonage_signature_secret,
        )
        if secret is not None and secret.get_secret_value()
    ]
    if not secrets_in_use:
        return secrets.token_bytes(32)
    return hashlib.sha256(b"kura-media-token-key|" + "|".join(secrets_in_use).encode()).digest()


DIAL_HINTS = {
    "twilio": "KURA_TWILIO_ACCOUNT_SID and KURA_TWILIO_AUTH_TOKEN",
    "signalwire": f"{signalwire.REST_HINT}, and KURA_SIGNALWIRE_TOKEN for its callbacks",
    "telnyx": "KURA_TELNYX_API_KEY, KURA_TELNYX_CONNECTION_ID and KURA_TELNYX_PUBLIC_KEY",
    "plivo": "KURA_PLIVO_AUTH_ID and KURA_PLIVO_AUTH_TOKEN",
    "vonage": "KURA_VONAGE_APPLICATION_ID, KURA_VONAGE_PRIVATE_KEY_PATH and "
    "KURA_VONAGE_SIGNATURE_SECRET",
}
"""The carriers that place outbound calls, and the settings each needs."""


def _dialers(
    settings: Settings,
    twilio: TwilioSignatures | None,
    signalwire_signatures: TwilioSignatures | None,
    telnyx: TelnyxSignatures | None,
    plivo: PlivoSignatures | None,
    vonage: tuple[VonageVoiceApi | None, VonageSignatures | None],
) -> dict[str, CarrierDialer]:
    """A dialer for each carrier configured both to place calls and to check callbacks."""
    dialers: dict[str, CarrierDialer] = {}
    twilio_rest = TwilioRest.from_settings(settings)
    if twilio_rest is not None and twilio is not None:
        dialers["twilio"] = CompatDialer(
            twilio_rest, twilio, OutboundPaths(TWILIO_PREFIX),
            compat_capabilities("twilio", "Twilio"),
        )  # fmt: skip
    signalwire_rest = signalwire.rest_client(settings)
    if signalwire_rest is not None and signalwire_signatures is not None:
        dialers["signalwire"] = CompatDialer(
            signalwire_rest, signalwire_signatures, OutboundPaths(signalwire.SIGNALWIRE_PREFIX),
            compat_capabilities("signalwire", "SignalWire"),
        )  # fmt: skip
    key = settings.telnyx_api_key
    if key and key.get_secret_value() and settings.telnyx_connection_id and telnyx is not None:
        dialers["telnyx"] = TelnyxDialer(
            TelnyxCallControl(key.get_secret_value(), settings.telnyx_api_base_url),
            settings.telnyx_connection_id, settings.effective_public_url, telnyx.media_url(),
            settings.telnyx_stream_codec,
        )  # fmt: skip
    plivo_token = settings.plivo_auth_token
    if settings.plivo_auth_id and plivo_token is not None and plivo is not None:
        dialers["plivo"] = PlivoDialer(
            settings.plivo_auth_id, plivo_token.get_secret_value(),
            settings.plivo_api_base_url, plivo,
        )  # fmt: skip
    vonage_api, vonage_signatures = vonage
    if vonage_api is not None and vonage_signatures is not None:
        dialers["vonage"] = VonageDialer(vonage_api, settings.effective_public_url)
    return dialers


def _caller_left(ctx: GatewayContext, telephony: Telephony) -> CallOverHook:
    """A call over while its warm transfer is still bridging (the caller hung up as the stream
    closed, so no markup or hand-over will take them to the human): the human waiting in the
    conference is hung up, through the call's carrier."""

    async def left(call_sid: str, carrier: str) -> None:
        legs = telephony.transfer_legs(carrier)
        await caller_left(ctx.store, legs, ctx.clock, ctx.events, call_sid)

    return left


def build_telephony(ctx: GatewayContext) -> Telephony:
    settings = ctx.settings
    deadlines = CallDeadlines(ctx.clock)
    calls = CallService(
        ctx.store,
        ctx.sessions,
        ctx.clock,
        token_key=_token_key(settings),
        media_token_ttl_s=settings.call_media_token_ttl_s,
        slots=ctx.shared.slots,
        limits=CallLimits(
            max_concurrent_calls=settings.max_concurrent_calls,
            max_duration_s=settings.call_max_duration_s,
            ring_timeout_s=settings.outbound_ring_timeout_s,
        ),
        deadlines=deadlines,
        events=ctx.events,
    )
    signatures = TwilioSignatures.from_settings(settings)
    telnyx = TelnyxSignatures.from_settings(settings, ctx.clock)
    vonage = VonageSignatures.from_settings(settings, ctx.clock)
    vonage_api = VonageVoiceApi.from_settings(settings, ctx.clock)
    plivo = PlivoSignatures.from_settings(settings)
    signalwire_signatures = signalwire.signatures(settings)
    dialers = _dialers(
        settings, signatures, signalwire_signatures, telnyx, plivo, (vonage_api, vonage)
    )
    carriers = carrier_registry(
        twilio_carrier(signatures),
        telnyx_carrier(telnyx, telnyx_after_call(calls, ctx.store, dialers)),
        signalwire_carrier(signalwire_signatures),
        plivo_carrier(plivo),
        vonage_carrier(vonage, vonage_after_call(calls, ctx.store, vonage_api)),
    )
    outbound = OutboundCalls(
        ctx.store, ctx.sessions, calls, ctx.clock,
        dialers=dialers, dial_hints=DIAL_HINTS,
        retry_after_s=settings.call_limit_retry_after_s,
    )  # fmt: skip
    progress = OutboundProgress(
        ctx.store, calls, outbound, ctx.clock, media_token_ttl_s=settings.call_media_token_ttl_s
    )
    telephony = Telephony(
        signatures, calls, telnyx, carriers, outbound, progress, deadlines, LateWork(),
        signalwire=signalwire_signatures, plivo=plivo, vonage=vonage, vonage_api=vonage_api,
        telnyx_legs=TexmlLegs.from_settings(settings, telnyx),
    )  # fmt: skip
    calls.call_over_hook = _caller_left(ctx, telephony)
    return telephony
