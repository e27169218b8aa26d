"""Twilio's voice, status-callback and ``<Connect action>`` webhooks, and SignalWire's.

Each one first proves the request came from the carrier (``X-Twilio-Signature``, or SignalWire's
``X-SignalWire-Signature``, over the URL rebuilt from ``KURA_PUBLIC_URL``) and answers 403 before
doing any work if not; with no signing secret configured they answer 503, never trusting an
unsigned request. Answers are TwiML (cXML on SignalWire: the same document), made from the store
alone: no provider is contacted on this path. Each answers within
``KURA_WEBHOOK_ANSWER_DEADLINE_S``, a degraded document if the store stalls or fails
(``late_work``): never a 500, never JSON, once the request is proven the carrier's. One
``CompatDoor`` per carrier says what differs: its name, its signatures, the shape of its call
ids and how it picks the ``codec`` its ``<Stream>`` asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from gateway import tracing
from gateway.context import CONTEXT, GatewayContext
from gateway.errors import Forbidden, GatewayError, Unavailable
from gateway.telephony import form_fields, twiml
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.calls import CallAnswer, InboundCall
from gateway.telephony.carriers.codec import CarrierCapabilities
from gateway.telephony.late_work import Overdue
from gateway.telephony.service import TELEPHONY, Telephony, after_stream_in_time
from gateway.telephony.signatures import TWILIO_PREFIX, TwilioSignatures
from gateway.telephony.transfer_twiml import DROPPED, join_conference
from gateway.telephony.twilio_codec import CAPABILITIES
from kinds.audio import AudioFormat
from providers.capabilities import ProviderCapabilities
from providers.errors import ProviderError

log = logging.getLogger(__name__)

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class CompatDoor:
    """One carrier that speaks Twilio's webhooks and TwiML."""

    carrier: str
    title: str
    config_hint: str
    signatures: Callable[[Telephony], TwilioSignatures | None]
    call_sid: re.Pattern[str]
    prefix: str
    capabilities: CarrierCapabilities
    """What its media stream carries (the early provider connection is planned for it)."""
    stream_codec: Callable[[ProviderCapabilities | None], tuple[str | None, AudioFormat]] | None = (
        None
    )
    """The ``<Stream codec>`` a call asks for and the audio it brings, from its provider's
    capabilities (SignalWire's ``signalwire.codec_for``); ``None``: no codec attribute, the
    carrier's own audio."""

    def stream_format(
        self, ctx: GatewayContext, provider: str | None
    ) -> tuple[str | None, AudioFormat]:
        """The call's ``<Stream codec>`` (``None``: none) and audio, for its assistant's
        ``provider``. No I/O: a retried webhook gets the same document."""
        if self.stream_codec is None:
            return None, self.capabilities.audio
        capabilities: ProviderCapabilities | None = None
        # An unknown provider gets the default: its session fails and apologises anyway.
        with contextlib.suppress(ProviderError):
            if provider is not None:
                capabilities = ctx.providers.get(provider).capabilities("voice")
        return self.stream_codec(capabilities)

    def _signatures(self, telephony: Telephony) -> TwilioSignatures:
        signatures = self.signatures(telephony)
        if signatures is None:
            log.error(
                "%s webhook refused: %s is not set", self.carrier, self.config_hint,
                extra={"carrier": self.carrier},
            )  # fmt: skip
            raise Unavailable(f"{self.title} is not configured on this gateway")
        return signatures

    async def signed_form(self, request: web.Request) -> MultiDictProxy[str]:
        """The webhook's form fields, once the signature over all of them checks out."""
        signatures = self._signatures(request.app[TELEPHONY])
        signature = signatures.signature_of(request.headers)
        if not signature or request.content_type != FORM_TYPE:
            log.warning("%s webhook refused: unsigned", self.carrier, extra={"path": request.path})
            raise Forbidden(f"missing {self.title} signature")
        posted = await request.post()  # bounded by client_max_size: bigger bodies are a 413
        form: MultiDict[str] = MultiDict()
        for name, value in posted.items():
            if not isinstance(value, str):
                raise Forbidden("unexpected file upload")
            form.add(name, value)
        if not signatures.webhook_is_valid(request.raw_path, form, signature):
            log.warning(
                "%s webhook refused: bad signature", self.carrier, extra={"path": request.path}
            )
            raise Forbidden(f"invalid {self.title} signature")
        return MultiDictProxy(form)

    def _render(self, answer: CallAnswer, signatures: TwilioSignatures, codec: str | None) -> str:
        if answer.kind == "stream" and answer.session_id and answer.media_token:
            return twiml.connect_stream(
                signatures.media_url(),
                signatures.http_url(self.prefix + "/action"),
                {"session_id": answer.session_id, "token": answer.media_token},
                codec=codec,
            )
        if answer.kind == "not_in_service":
            return twiml.say_and_hang_up(twiml.NOT_IN_SERVICE)
        if answer.kind == "busy":
            return twiml.say_and_hang_up(twiml.BUSY)
        return twiml.say_and_hang_up(twiml.GOODBYE)

    async def voice(self, request: web.Request) -> web.Response:
        """An incoming call: a session and a ``<Connect><Stream>``, or a polite refusal."""
        request.app[CONTEXT].drain.refuse_new("calls")  # 503: the carrier tries its fallback
        form = await self.signed_form(request)
        telephony = request.app[TELEPHONY]
        inbound = InboundCall(
            call_sid=form_fields.call_sid(form, self.call_sid),
            from_raw=form.get("From", ""),
            to_raw=form.get("To", ""),
            direction=form.get("Direction", "inbound")[:20],
            carrier=self.carrier,
        )
        tracing.annotate(call_sid=inbound.call_sid)
        try:
            async with asyncio.timeout(_deadline_s(request)):
                answer = await telephony.calls.answer(inbound)
        except TimeoutError:
            # A stalled database must not leave the caller in silence until the carrier gives up.
            log.error("voice webhook over its deadline", extra={"call_sid": inbound.call_sid})
            return reply(twiml.say_and_hang_up(twiml.UNAVAILABLE))
        except GatewayError as exc:
            if exc.status < 500:
                raise
            return _unavailable(inbound.call_sid)
        except Exception:  # a database error: the caller hears an apology, the carrier no 500
            return _unavailable(inbound.call_sid)
        tracing.annotate(session_id=answer.session_id, outcome=answer.kind)
        ctx = request.app[CONTEXT]
        codec, audio = self.stream_format(ctx, answer.provider)
        if answer.kind == "stream" and answer.session_id and ctx.settings.early_provider_connect:
            # The greeting is ready when the call connects, planned for the audio asked for.
            traits = call_traits(self.capabilities.for_call(audio))
            ctx.runner.connect_early(answer.session_id, traits)
        return reply(self._render(answer, self._signatures(telephony), codec))

    async def status(self, request: web.Request) -> web.Response:
        """A call status callback: record it (idempotently); end the session once it is over."""
        form = await self.signed_form(request)
        call_sid = form_fields.call_sid(form, self.call_sid)
        tracing.annotate(call_sid=call_sid)
        telephony = request.app[TELEPHONY]
        # A call over also ends a warm transfer still bridging (``CallService.record_status``).
        work = telephony.calls.record_status(
            call_sid,
            form.get("CallStatus", "")[:20],
            form_fields.count(form.get("SequenceNumber")),
            form_fields.count(form.get("CallDuration")),
            carrier=self.carrier,
        )
        # Degraded or not, the answer is the same empty document: the carrier only needs a 200.
        await telephony.late.run(
            work, deadline_s=_deadline_s(request), what=f"{self.carrier}_status", call_sid=call_sid
        )
        return reply(twiml.empty())

    async def after_stream(self, request: web.Request) -> web.Response:
        """The ``<Connect action>`` URL: what the caller hears once our stream has closed."""
        form = await self.signed_form(request)
        call_sid = form_fields.call_sid(form, self.call_sid)
        tracing.annotate(call_sid=call_sid)
        outcome = await after_stream_in_time(request, call_sid, self.carrier)
        if isinstance(outcome, Overdue) or outcome.kind == "apology":
            return reply(twiml.say_and_hang_up(twiml.TROUBLE))
        if outcome.transfer_to:
            return reply(twiml.transfer(outcome.transfer_to))
        if outcome.conference:  # a warm transfer accepted: the human waits there
            return reply(join_conference(outcome.conference, first=False))
        if outcome.kind == "dropped":  # accepted, then hung up before the caller got there
            return reply(twiml.say_and_hang_up(DROPPED))
        return reply(twiml.say_and_hang_up(twiml.GOODBYE))


def reply(document: str) -> web.Response:
    return web.Response(text=document, content_type=twiml.CONTENT_TYPE)


TWILIO = CompatDoor(
    carrier="twilio",
    title="Twilio",
    config_hint="KURA_TWILIO_AUTH_TOKEN",
    signatures=lambda telephony: telephony.signatures,
    call_sid=CALL_SID,
    prefix=TWILIO_PREFIX,
    capabilities=CAPABILITIES,
)
voice = TWILIO.voice
status = TWILIO.status
after_stream = TWILIO.after_stream
signed_form = TWILIO.signed_form


def _deadline_s(request: web.Request) -> float:
    return request.app[CONTEXT].settings.webhook_answer_deadline_s


def _unavailable(call_sid: str) -> web.Response:
    log.exception("voice webhook failed; apologising", extra={"call_sid": call_sid})
    return reply(twiml.say_and_hang_up(twiml.UNAVAILABLE))
