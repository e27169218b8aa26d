"""Twilio's voice, status-callback and ``<Connect action>`` webhooks.

Each one first proves the request came from Twilio (``X-Twilio-Signature`` over the URL rebuilt
from ``KURA_PUBLIC_URL``) and answers 403 before doing any work if not; with no auth token
configured they answer 503, never trusting an unsigned request. Answers are TwiML
(``text/xml``), made from the store alone: no provider is contacted on this path.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from gateway import tracing
from gateway.context import CONTEXT
from gateway.errors import Forbidden, Unavailable
from gateway.telephony import form_fields, twiml
from gateway.telephony.bridge import call_traits
from gateway.telephony.calls import CallAnswer, InboundCall
from gateway.telephony.service import TELEPHONY, Telephony
from gateway.telephony.signatures import ACTION_PATH, SIGNATURE_HEADER, TwilioSignatures
from gateway.telephony.twilio_codec import CAPABILITIES

log = logging.getLogger(__name__)

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
FORM_TYPE = "application/x-www-form-urlencoded"


def _signatures(telephony: Telephony) -> TwilioSignatures:
    if telephony.signatures is None:
        log.error("twilio webhook refused: KURA_TWILIO_AUTH_TOKEN is not set")
        raise Unavailable("telephony is not configured on this gateway")
    return telephony.signatures


async def _signed_form(request: web.Request) -> MultiDictProxy[str]:
    """The webhook's form fields, once the signature over all of them checks out."""
    signatures = _signatures(request.app[TELEPHONY])
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature or request.content_type != FORM_TYPE:
        log.warning("twilio webhook refused: unsigned", extra={"path": request.path})
        raise Forbidden("missing Twilio signature")
    posted = await request.post()  # bounded by client_max_size: bigger bodies are a 413
    form: MultiDict[str] = MultiDict()
    for name, value in posted.items():
        if not isinstance(value, str):
            raise Forbidden("unexpected file upload")
        form.add(name, value)
    if not signatures.webhook_is_valid(request.raw_path, form, signature):
        log.warning("twilio webhook refused: bad signature", extra={"path": request.path})
        raise Forbidden("invalid Twilio signature")
    return MultiDictProxy(form)


def _reply(document: str) -> web.Response:
    return web.Response(text=document, content_type=twiml.CONTENT_TYPE)


def _render(answer: CallAnswer, signatures: TwilioSignatures) -> str:
    if answer.kind == "stream" and answer.session_id and answer.media_token:
        return twiml.connect_stream(
            signatures.media_url(),
            signatures.http_url(ACTION_PATH),
            {"session_id": answer.session_id, "token": answer.media_token},
        )
    if answer.kind == "not_in_service":
        return twiml.say_and_hang_up(twiml.NOT_IN_SERVICE)
    return twiml.say_and_hang_up(twiml.GOODBYE)


async def voice(request: web.Request) -> web.Response:
    """An incoming call: a session and a ``<Connect><Stream>``, or a polite refusal."""
    request.app[CONTEXT].drain.refuse_new("calls")  # 503: Twilio tries the fallback URL
    form = await _signed_form(request)
    telephony = request.app[TELEPHONY]
    inbound = InboundCall(
        call_sid=form_fields.call_sid(form, CALL_SID),
        from_raw=form.get("From", ""),
        to_raw=form.get("To", ""),
        direction=form.get("Direction", "inbound")[:20],
    )
    tracing.annotate(call_sid=inbound.call_sid)
    try:
        async with asyncio.timeout(request.app[CONTEXT].settings.webhook_answer_deadline_s):
            answer = await telephony.calls.answer(inbound)
    except TimeoutError:
        # A stalled database must not leave the caller in silence until Twilio gives up.
        log.error("voice webhook over its deadline", extra={"call_sid": inbound.call_sid})
        return _reply(twiml.say_and_hang_up(twiml.UNAVAILABLE))
    tracing.annotate(session_id=answer.session_id, outcome=answer.kind)
    ctx = request.app[CONTEXT]
    if answer.kind == "stream" and answer.session_id and ctx.settings.early_provider_connect:
        ctx.runner.connect_early(answer.session_id, call_traits(CAPABILITIES))  # greeting ready
    return _reply(_render(answer, _signatures(telephony)))


async def status(request: web.Request) -> web.Response:
    """A call status callback: record it (idempotently) and end the session when it is over."""
    form = await _signed_form(request)
    call_sid = form_fields.call_sid(form, CALL_SID)
    tracing.annotate(call_sid=call_sid)
    await request.app[TELEPHONY].calls.record_status(
        call_sid,
        form.get("CallStatus", "")[:20],
        form_fields.count(form.get("SequenceNumber")),
        form_fields.count(form.get("CallDuration")),
    )
    return _reply(twiml.empty())


async def after_stream(request: web.Request) -> web.Response:
    """The ``<Connect action>`` URL: what the caller hears once our stream has closed."""
    form = await _signed_form(request)
    call_sid = form_fields.call_sid(form, CALL_SID)
    tracing.annotate(call_sid=call_sid)
    transfer_to = await request.app[TELEPHONY].calls.after_stream(call_sid)
    if transfer_to:
        return _reply(twiml.transfer(transfer_to))
    return _reply(twiml.say_and_hang_up(twiml.GOODBYE))
