"""Plivo's answer, hangup and after-stream webhooks.

Each one first proves the request came from Plivo (V3: HMAC-SHA256 over the URL rebuilt from
``KURA_PUBLIC_URL``, the form and a nonce; see ``plivo_signatures``) and answers 403 before any
work if not; with no auth token configured they answer 503, never trusting an unsigned request.
The call's session is created by the same ``CallService`` as a Twilio call, so contacts,
transcripts and the session API see no difference. Answers are Plivo XML: a bidirectional
``<Stream>`` in µ-law that keeps the call alive while it runs, then a ``<Redirect>`` to our
after-stream door (a transfer, or goodbye). Plivo sends numbers without the ``+``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from xml.etree import ElementTree

from aiohttp import web
from multidict import MultiDict

from gateway import tracing
from gateway.context import CONTEXT
from gateway.errors import BadRequest, Forbidden, Unavailable
from gateway.telephony import form_fields, twiml
from gateway.telephony.calls import CallAnswer, InboundCall
from gateway.telephony.late_work import Overdue
from gateway.telephony.plivo_codec import CALL_PARAMETER, CONTENT_TYPE, extra_headers
from gateway.telephony.plivo_signatures import (
    ACTION_PATH,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    PlivoSignatures,
)
from gateway.telephony.plivo_transfer import join_conference
from gateway.telephony.service import TELEPHONY, after_stream_in_time
from gateway.telephony.transfer_twiml import DROPPED

log = logging.getLogger(__name__)

CALL_UUID = re.compile(r"^[A-Za-z0-9-]{16,64}$")
FORM_TYPE = "application/x-www-form-urlencoded"
# Plivo's hangup causes that are not Twilio's status words, in Twilio's words.
STATUSES = {"timeout": "no-answer", "cancel": "canceled", "busy": "busy"}


def _signatures(request: web.Request) -> PlivoSignatures:
    signatures = request.app[TELEPHONY].plivo
    if signatures is None:
        log.error("plivo webhook refused: KURA_PLIVO_AUTH_TOKEN is not set")
        raise Unavailable("Plivo is not configured on this gateway")
    return signatures


async def signed_form(request: web.Request) -> MultiDict[str]:
    """The webhook's form fields, once the signature over all of them checks out."""
    signatures = _signatures(request)
    nonce, signature = request.headers.get(NONCE_HEADER), request.headers.get(SIGNATURE_HEADER)
    if not nonce or not signature or request.content_type != FORM_TYPE:
        log.warning("plivo webhook refused: unsigned", extra={"path": request.path})
        raise Forbidden("missing Plivo signature")
    posted = await request.post()  # bounded by client_max_size: bigger bodies are a 413
    form: MultiDict[str] = MultiDict()
    for name, value in posted.items():
        if not isinstance(value, str):
            raise Forbidden("unexpected file upload")
        form.add(name, value)
    if not signatures.is_valid(request.raw_path, form.items(), nonce, signature):
        log.warning("plivo webhook refused: bad signature", extra={"path": request.path})
        raise Forbidden("invalid Plivo signature")
    return form


def call_uuid_of(form: Mapping[str, str]) -> str:
    value = form.get("CallUUID", "")
    if not CALL_UUID.match(value):
        raise BadRequest("CallUUID is missing or malformed")
    return value


def _e164(raw: str) -> str:
    """Plivo writes ``14155550100`` for ``+14155550100``."""
    return "+" + raw if raw.isascii() and raw.isdigit() else raw


def render(response: ElementTree.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(
        response, encoding="unicode"
    )


def xml_response(response: ElementTree.Element) -> web.Response:
    return web.Response(text=render(response), content_type=twiml.CONTENT_TYPE)


def stream_answer(
    stream_url: str, action_url: str, parameters: Mapping[str, str]
) -> ElementTree.Element:
    """Bridge the call to our media socket both ways; once the stream ends, ask us again."""
    response = ElementTree.Element("Response")
    stream = ElementTree.SubElement(
        response, "Stream",
        bidirectional="true", keepCallAlive="true", audioTrack="inbound",
        contentType=CONTENT_TYPE, extraHeaders=extra_headers(parameters),
    )  # fmt: skip
    stream.text = stream_url
    ElementTree.SubElement(response, "Redirect", method="POST").text = action_url
    return response


def speak_and_hang_up(message: str) -> ElementTree.Element:
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Speak").text = message
    ElementTree.SubElement(response, "Hangup")
    return response


def _render(answer: CallAnswer, call_uuid: str, signatures: PlivoSignatures) -> ElementTree.Element:
    if answer.kind == "stream" and answer.session_id and answer.media_token:
        return stream_answer(
            signatures.media_url(),
            signatures.http_url(ACTION_PATH),
            {"session_id": answer.session_id, "token": answer.media_token,
             CALL_PARAMETER: call_uuid},
        )  # fmt: skip
    if answer.kind == "not_in_service":
        return speak_and_hang_up(twiml.NOT_IN_SERVICE)
    return speak_and_hang_up(twiml.GOODBYE)


async def voice(request: web.Request) -> web.Response:
    """An incoming call (Plivo's answer URL): a session and a ``<Stream>``, or a refusal."""
    request.app[CONTEXT].drain.refuse_new("calls")  # 503: Plivo tries the fallback answer URL
    form = await signed_form(request)
    inbound = InboundCall(
        call_sid=call_uuid_of(form),
        from_raw=_e164(form.get("From", "")),
        to_raw=_e164(form.get("To", "")),
        direction=form.get("Direction", "inbound")[:20],
        carrier="plivo",
    )
    tracing.annotate(call_sid=inbound.call_sid)
    try:
        async with asyncio.timeout(request.app[CONTEXT].settings.webhook_answer_deadline_s):
            answer = await request.app[TELEPHONY].calls.answer(inbound)
    except TimeoutError:
        log.error("voice webhook over its deadline", extra={"call_sid": inbound.call_sid})
        return xml_response(speak_and_hang_up(twiml.UNAVAILABLE))
    tracing.annotate(session_id=answer.session_id, outcome=answer.kind)
    return xml_response(_render(answer, inbound.call_sid, _signatures(request)))


async def status(request: web.Request) -> web.Response:
    """Plivo's hangup (and call status) callback: record it, end the session once it is over."""
    form = await signed_form(request)
    call_uuid = call_uuid_of(form)
    tracing.annotate(call_sid=call_uuid)
    raw = form.get("CallStatus", "")[:20]
    telephony = request.app[TELEPHONY]
    work = telephony.calls.record_status(
        call_uuid,
        STATUSES.get(raw, raw),
        None,  # Plivo numbers no callbacks; the status ranks order them
        form_fields.count(form.get("Duration")),
        carrier="plivo",
    )
    deadline_s = request.app[CONTEXT].settings.webhook_answer_deadline_s
    await telephony.late.run(work, deadline_s=deadline_s, what="plivo_status", call_sid=call_uuid)
    return xml_response(ElementTree.Element("Response"))


async def after_stream(request: web.Request) -> web.Response:
    """The ``<Redirect>`` after our stream: a transfer the assistant asked for, or goodbye."""
    form = await signed_form(request)
    call_uuid = call_uuid_of(form)
    tracing.annotate(call_sid=call_uuid)
    outcome = await after_stream_in_time(request, call_uuid, "plivo")
    if isinstance(outcome, Overdue) or outcome.kind == "apology":
        return xml_response(speak_and_hang_up(twiml.TROUBLE))
    if outcome.conference:  # a warm transfer accepted: the human waits there
        return xml_response(join_conference(outcome.conference))
    if outcome.kind == "dropped":  # accepted, then hung up before the caller got there
        return xml_response(speak_and_hang_up(DROPPED))
    transfer_to = outcome.transfer_to
    if not transfer_to:
        return xml_response(speak_and_hang_up(twiml.GOODBYE))
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Speak").text = twiml.TRANSFERRING
    dial = ElementTree.SubElement(response, "Dial")
    ElementTree.SubElement(dial, "Number").text = transfer_to.removeprefix("+")
    return xml_response(response)
