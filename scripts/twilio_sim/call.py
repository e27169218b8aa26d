"""One whole simulated call: voice webhook → TwiML → media socket → ``<Connect action>``.

Every step is what Twilio does: a signed form POST of the standard call fields; the media socket
opened with ``X-Twilio-Signature`` over the ``<Stream url>`` exactly as given (``wss://`` or
``ws://``, no parameters); the TwiML's ``<Parameter>``s sent back in ``start``; and, once the
stream is over, a signed POST to the ``<Connect action>`` URL. A failed step ends the call and
is named in ``CallResult.failure`` so a load test can count failures by kind.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from twilio.request_validator import RequestValidator

from . import plivo, signalwire, telnyx, vonage
from .audio import RATE_HZ
from .media_session import InboundPlan, MediaSession, SessionStats
from .pacing import CallClock
from .playback import Playback
from .ticker import FrameTicker
from .webhook import (
    SIGNATURE_HEADER,
    VOICE_PATH,
    CallIdentity,
    ConnectStream,
    WebhookReply,
    parse_twiml,
    post_signed,
    rebase,
    sign,
)

HANDSHAKE_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0  # Twilio does not wait long for a close handshake either
MAX_AGENT_MESSAGE_BYTES = 1 << 20
END_MARGIN_S = 30.0  # the call's hard deadline beyond its planned duration


@dataclass(frozen=True)
class CallConfig:
    """Where to call and as whom; ``public_url`` is the gateway's ``KURA_PUBLIC_URL``."""

    gateway_url: str
    auth_token: str
    from_number: str
    to_number: str
    public_url: str | None = None
    speed: float = 1.0
    record_max_s: float | None = None  # record what the agent said (None: do not)
    follow_action: bool = True
    carrier: str = "twilio"
    """Or ``telnyx`` (``auth_token`` is then the base64 Ed25519 signing seed), ``plivo`` (its
    auth token), ``signalwire`` (the project's Signing Key) or ``vonage`` (the signature
    secret)."""
    stream_delay_s: float = 0.0  # the carrier's time from the TwiML to opening the media socket
    ticker: FrameTicker | None = field(default=None, compare=False)
    """The load step's shared frame clock (``None``: each call paces its own frames)."""

    @property
    def voice_url(self) -> str:
        return (self.public_url or self.gateway_url).rstrip("/") + _VOICE_PATHS[self.carrier]

    @property
    def status_url(self) -> str:
        return (self.public_url or self.gateway_url).rstrip("/") + _STATUS_PATHS[self.carrier]


_VOICE_PATHS = {"twilio": VOICE_PATH, "telnyx": telnyx.VOICE_PATH, "plivo": plivo.VOICE_PATH,
                "signalwire": signalwire.VOICE_PATH, "vonage": vonage.VOICE_PATH}  # fmt: skip
_STATUS_PATHS = {"twilio": "/telephony/twilio/status", "telnyx": telnyx.STATUS_PATH,
                 "plivo": plivo.STATUS_PATH, "signalwire": signalwire.STATUS_PATH,
                 "vonage": vonage.STATUS_PATH}  # fmt: skip
_SESSIONS: dict[str, type[MediaSession]] = {
    "twilio": MediaSession, "telnyx": telnyx.TelnyxMediaSession,
    "plivo": plivo.PlivoMediaSession, "signalwire": MediaSession,
}  # fmt: skip


@dataclass
class CallResult:
    """What one call did; ``failure`` is ``None`` when every step worked."""

    identity: CallIdentity
    webhook: WebhookReply | None = None
    stream: ConnectStream | None = None
    handshake_ms: float | None = None
    session: SessionStats | None = None
    action: WebhookReply | None = None
    failure: str | None = None
    recording: bytes = field(default=b"", repr=False)
    answered_at: float | None = None  # time.monotonic() when the TwiML came back
    agent_audio_s: float = 0.0  # agent audio received on the media socket
    agent_audio_cleared_s: float = 0.0  # of which dropped unplayed by a clear
    streaming: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def answer_to_first_agent_audio_ms(self) -> float | None:
        """From the TwiML answering the call to the first agent audio on the media socket."""
        first = self.session.first_agent_audio_at if self.session else None
        if first is None or self.answered_at is None:
            return None
        return (first - self.answered_at) * 1000

    @property
    def held(self) -> bool:
        """Connected and streaming until the planned end, with the gateway never hanging up."""
        return (
            self.failure is None
            and self.session is not None
            and self.session.closed_by == "simulator"
        )


async def run_call(
    http: aiohttp.ClientSession, config: CallConfig, plan: InboundPlan, result: CallResult
) -> CallResult:
    """Place one call, filling ``result`` as it goes (a load test reads it while it runs)."""
    try:
        async with asyncio.timeout(plan.duration_s / config.speed + END_MARGIN_S):
            if config.carrier == "telnyx":
                await _telnyx_call(http, config, plan, result)
            elif config.carrier == "plivo":
                await _plivo_call(http, config, plan, result)
            elif config.carrier == "signalwire":
                await _signalwire_call(http, config, plan, result)
            elif config.carrier == "vonage":
                await _vonage_call(http, config, plan, result)
            else:
                await _call(http, RequestValidator(config.auth_token), config, plan, result)
    except TimeoutError:
        result.failure = result.failure or "timeout"
    except Exception as exc:  # one broken call is a counted failure, never the end of a load test
        result.failure = result.failure or f"{type(exc).__name__}: {exc}"[:80]
    finally:
        result.streaming.set()  # release anyone waiting for this call to start
    return result


async def _call(
    http: aiohttp.ClientSession,
    validator: RequestValidator,
    config: CallConfig,
    plan: InboundPlan,
    result: CallResult,
) -> None:
    identity = result.identity
    reply = await post_signed(
        http, validator, config.voice_url, config.gateway_url, identity.fields("ringing")
    )
    result.webhook = reply
    result.answered_at = time.monotonic()
    if reply.status != 200:
        result.failure = f"webhook HTTP {reply.status}"
        return
    stream = parse_twiml(reply.text)
    result.stream = stream
    if stream is None:
        result.failure = "webhook answered without <Connect><Stream>"
        return
    await asyncio.sleep(config.stream_delay_s)
    session = await _media(http, validator, config, plan, stream, result)
    if session.closed_by == "gateway" and session.frames_sent < plan.frame_count:
        result.failure = f"gateway closed the media socket early (code {session.close_code})"
    if config.follow_action and stream.action_url:
        status = "in-progress" if session.closed_by == "gateway" else "completed"
        result.action = await post_signed(
            http, validator, stream.action_url, config.gateway_url, identity.fields(status)
        )


async def _telnyx_call(
    http: aiohttp.ClientSession, config: CallConfig, plan: InboundPlan, result: CallResult
) -> None:
    """The same call as Telnyx places it: signed TeXML webhook, unsigned media socket with its
    framing, and the call's end reported to the status URL (TeXML has no ``action`` here)."""
    key, identity = telnyx.signing_key(config.auth_token), result.identity
    reply = await telnyx.post_signed(
        http, key, config.voice_url, config.gateway_url, telnyx.fields(identity, "ringing")
    )
    result.webhook = reply
    stream = parse_twiml(reply.text) if reply.status == 200 else None
    result.stream = stream
    if stream is None:
        result.failure = f"webhook HTTP {reply.status}" if reply.status != 200 else "no <Stream>"
        return
    session = await _media(http, None, config, plan, stream, result)
    if session.closed_by == "gateway" and session.frames_sent < plan.frame_count:
        result.failure = f"gateway closed the media socket early (code {session.close_code})"
    if config.follow_action:
        done = telnyx.fields(identity, "completed", sequence=3)
        result.action = await telnyx.post_signed(
            http, key, config.status_url, config.gateway_url, done
        )


async def _plivo_call(
    http: aiohttp.ClientSession, config: CallConfig, plan: InboundPlan, result: CallResult
) -> None:
    """The call as Plivo places it: V3-signed answer webhook, the ``<Stream>`` it names, the
    hangup callback, then the ``<Redirect>`` it follows once the stream is over."""
    token, identity = config.auth_token, result.identity
    url = config.voice_url
    reply = await plivo.post_signed(
        http, token, url, config.gateway_url, plivo.fields(identity, "ringing")
    )
    result.webhook = reply
    stream = plivo.parse_answer(reply.text) if reply.status == 200 else None
    result.stream = stream
    if stream is None:
        result.failure = f"webhook HTTP {reply.status}" if reply.status != 200 else "no <Stream>"
        return
    session = await _media(http, None, config, plan, stream, result)
    if session.closed_by == "gateway" and session.frames_sent < plan.frame_count:
        result.failure = f"gateway closed the media socket early (code {session.close_code})"
    if config.follow_action and stream.action_url:
        done = plivo.fields(
            identity, "completed" if session.closed_by == "simulator" else "in-progress"
        )
        result.action = await plivo.post_signed(
            http, token, stream.action_url, config.gateway_url, done
        )
        if session.closed_by == "simulator":
            await plivo.post_signed(http, token, config.status_url, config.gateway_url, done)


async def _signalwire_call(
    http: aiohttp.ClientSession, config: CallConfig, plan: InboundPlan, result: CallResult
) -> None:
    """Twilio's call with SignalWire's signature header and the stream its codec asks for
    (unsigned socket)."""
    key, identity = config.auth_token, result.identity
    reply = await signalwire.post_signed(
        http, key, config.voice_url, config.gateway_url, identity.fields("ringing")
    )
    result.webhook = reply
    stream = parse_twiml(reply.text) if reply.status == 200 else None
    result.stream = stream
    if stream is None:
        result.failure = f"webhook HTTP {reply.status}" if reply.status != 200 else "no <Stream>"
        return
    kind = signalwire.session_type(stream.codec)
    session = await _media(http, None, config, plan, stream, result, kind)
    if session.closed_by == "gateway" and session.frames_sent < plan.frame_count:
        result.failure = f"gateway closed the media socket early (code {session.close_code})"
    if config.follow_action and stream.action_url:
        status = "in-progress" if session.closed_by == "gateway" else "completed"
        result.action = await signalwire.post_signed(
            http, key, stream.action_url, config.gateway_url, identity.fields(status)
        )


async def _vonage_call(
    http: aiohttp.ClientSession, config: CallConfig, plan: InboundPlan, result: CallResult
) -> None:
    """The same call as Vonage places it: a signed GET answer webhook read as an NCCO, the
    websocket with binary L16, and the call's end reported to the event URL."""
    secret, identity = config.auth_token, result.identity
    reply = await vonage.answer(http, secret, config.voice_url, config.gateway_url, identity)
    result.webhook = reply
    connect = vonage.parse_ncco(reply.text) if reply.status == 200 else None
    if connect is None:
        result.failure = f"webhook HTTP {reply.status}" if reply.status != 200 else "no connect"
        return
    result.stream, rate_hz = connect
    session_type = functools.partial(vonage.VonageMediaSession, rate_hz=rate_hz)
    session = await _media(http, None, config, plan, connect[0], result, session_type)
    if session.closed_by == "gateway" and session.frames_sent < plan.frame_count:
        result.failure = f"gateway closed the media socket early (code {session.close_code})"
    if config.follow_action:
        result.action = await vonage.event(
            http, secret, config.status_url, config.gateway_url, identity, "completed"
        )


async def _media(
    http: aiohttp.ClientSession,
    validator: RequestValidator | None,
    config: CallConfig,
    plan: InboundPlan,
    stream: ConnectStream,
    result: CallResult,
    session_type: Callable[..., MediaSession] | None = None,
) -> SessionStats:
    """Open the media socket (signed, for Twilio) and play the call on it."""
    headers = {SIGNATURE_HEADER: sign(validator, stream.stream_url)} if validator else {}
    started = time.perf_counter()
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
            ws = await http.ws_connect(
                rebase(stream.stream_url, config.gateway_url),
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
                max_msg_size=MAX_AGENT_MESSAGE_BYTES,
                autoping=True,
            )
    except aiohttp.WSServerHandshakeError as exc:
        result.failure = f"media socket refused: HTTP {exc.status}"
        raise
    result.handshake_ms = (time.perf_counter() - started) * 1000
    playback = Playback(config.record_max_s)
    if session_type is None:
        session_type = _SESSIONS[config.carrier]
    session = session_type(
        ws,
        result.identity,
        stream.parameters,
        plan,
        CallClock(config.speed),
        playback,
        record=config.record_max_s is not None,
        ticker=config.ticker,
    )
    result.session = session.stats
    result.streaming.set()
    try:
        return await session.run()
    finally:
        await ws.close()
        result.recording = playback.recording()
        result.agent_audio_s = playback.received_bytes / RATE_HZ
        result.agent_audio_cleared_s = playback.cleared_bytes / RATE_HZ


play_media = _media  # the outbound simulator plays its callees on the same media leg
