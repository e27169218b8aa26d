"""Telnyx's TeXML voice and call-progress webhooks.

Each one first proves the request came from Telnyx (Ed25519 over ``timestamp|raw body``, see
``telnyx_signatures``) and answers 403 before any work if not; with no public key configured
they answer 503, never trusting an unsigned request. The body is read raw, verified, and only
then parsed (TeXML webhooks are form-encoded like Twilio's, with ``CallSid``, ``From``, ``To``,
``CallStatus`` and ``SequenceNumber``). Answers are TeXML made from the store alone: the call's
session is created by the same ``CallService`` as a Twilio call, so contacts, transcripts and the
session API see no difference.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import orjson
from aiohttp import web

from gateway import tracing
from gateway.context import CONTEXT
from gateway.errors import BadRequest, Forbidden, GatewayError, Unavailable
from gateway.telephony import form_fields, twiml
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.calls import CallAnswer, InboundCall
from gateway.telephony.late_work import Overdue
from gateway.telephony.service import TELEPHONY, after_stream_in_time
from gateway.telephony.telnyx_codec import CALL_PARAMETER, CAPABILITIES
from gateway.telephony.telnyx_signatures import ACTION_PATH, SIGNATURE_HEADER, TIMESTAMP_HEADER
from gateway.telephony.telnyx_signatures import TelnyxSignatures as Signatures
from gateway.telephony.telnyx_texml import dial_number, join_conference, render, say_and_hang_up
from gateway.telephony.transfer_twiml import DROPPED
from kinds.audio import PCMA_8K, PCMU_8K

log = logging.getLogger(__name__)

# TeXML CallSids look like "v3:9X2vxPDF…" (Call Control ids); older ones are UUIDs.
CALL_SID = re.compile(r"^[A-Za-z0-9:_-]{8,64}$")
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 100  # a TeXML webhook has about twenty fields
# The codec asked for both ways (KURA_TELNYX_STREAM_CODEC): Telnyx transcodes between PCMU and
# PCMA, the only transcoding it offers. The stream's start says what it really carries, and the
# bridge takes that format per call (telnyx_codec.CAPABILITIES.formats).
STREAM_CODEC = "PCMU"


def _signatures(request: web.Request) -> Signatures:
    signatures = request.app[TELEPHONY].telnyx
    if signatures is None:
        log.error("telnyx webhook refused: KURA_TELNYX_PUBLIC_KEY is not set")
        raise Unavailable("Telnyx is not configured on this gateway")
    return signatures


def _fields(body: bytes, content_type: str) -> dict[str, str]:
    """The webhook's fields: a form, or a flat JSON object (strings and numbers)."""
    try:
        if content_type == "application/json":
            data = orjson.loads(body)
            if not isinstance(data, dict):
                raise BadRequest("a JSON webhook must be an object")
            return {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
        pairs = parse_qsl(
            body.decode(), keep_blank_values=True, strict_parsing=bool(body),
            max_num_fields=MAX_FIELDS,
        )  # fmt: skip
    except (ValueError, UnicodeDecodeError) as exc:  # orjson's error is a ValueError too
        raise BadRequest("unreadable webhook body") from exc
    return dict(pairs)


async def signed_fields(request: web.Request) -> dict[str, str]:
    """The webhook's fields, once the signature over its raw body checks out."""
    signatures = _signatures(request)
    body = await request.read()  # bounded by client_max_size: bigger bodies are a 413
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not signatures.is_valid(timestamp, request.headers.get(SIGNATURE_HEADER), body):
        log.warning("telnyx webhook refused: bad signature", extra={"path": request.path})
        raise Forbidden("invalid Telnyx signature")
    if request.content_type not in (FORM_TYPE, "application/json"):
        raise BadRequest("unexpected content type")
    return _fields(body, request.content_type)


def _xml(response: ElementTree.Element) -> web.Response:
    return web.Response(text=render(response), content_type=twiml.CONTENT_TYPE)


def connect_stream(
    stream_url: str,
    parameters: Mapping[str, str],
    codec: str = STREAM_CODEC,
    action_url: str | None = None,
) -> ElementTree.Element:
    """TeXML bridging the call to our media socket, both ways, in RTP mode (without
    ``bidirectionalMode="rtp"`` the caller would hear nothing we send). TeXML's ``<Connect>``
    has no ``action``, but the verbs after it run once the stream stops: a ``<Redirect>`` to
    ``action_url`` asks us what follows (a transfer, or goodbye), as Twilio's action does."""
    response = ElementTree.Element("Response")
    stream = ElementTree.SubElement(
        ElementTree.SubElement(response, "Connect"),
        "Stream",
        url=stream_url, track="inbound_track", codec=codec,
        bidirectionalMode="rtp", bidirectionalCodec=codec,
    )  # fmt: skip
    for name, value in parameters.items():
        ElementTree.SubElement(stream, "Parameter", name=name, value=value)
    if action_url is not None:
        ElementTree.SubElement(response, "Redirect", method="POST").text = action_url
    return response


def _render(
    answer: CallAnswer, call_sid: str, signatures: Signatures, codec: str
) -> ElementTree.Element:
    if answer.kind == "stream" and answer.session_id and answer.media_token:
        return connect_stream(
            signatures.media_url(),
            {"session_id": answer.session_id, "token": answer.media_token,
             CALL_PARAMETER: call_sid},
            codec, signatures.http_url(ACTION_PATH),
        )  # fmt: skip
    if answer.kind == "not_in_service":
        return say_and_hang_up(twiml.NOT_IN_SERVICE)
    if answer.kind == "busy":
        return say_and_hang_up(twiml.BUSY)
    return say_and_hang_up(twiml.GOODBYE)


def _unavailable(call_sid: str) -> web.Response:
    log.exception("voice webhook failed; apologising", extra={"call_sid": call_sid})
    return _xml(say_and_hang_up(twiml.UNAVAILABLE))


async def voice(request: web.Request) -> web.Response:
    """An incoming call: a session and a ``<Connect><Stream>``, or a polite refusal."""
    request.app[CONTEXT].drain.refuse_new("calls")  # 503: Telnyx tries the failover URL
    fields = await signed_fields(request)
    telephony = request.app[TELEPHONY]
    inbound = InboundCall(
        call_sid=form_fields.call_sid(fields, CALL_SID),
        from_raw=fields.get("From", ""),
        to_raw=fields.get("To", ""),
        direction=fields.get("Direction", "inbound")[:20],
        carrier="telnyx",
    )
    tracing.annotate(call_sid=inbound.call_sid)
    try:
        async with asyncio.timeout(request.app[CONTEXT].settings.webhook_answer_deadline_s):
            answer = await telephony.calls.answer(inbound)
    except TimeoutError:
        log.error("voice webhook over its deadline", extra={"call_sid": inbound.call_sid})
        return _xml(say_and_hang_up(twiml.UNAVAILABLE))
    except GatewayError as exc:
        if exc.status < 500:
            raise
        return _unavailable(inbound.call_sid)
    except Exception:  # a database error: the caller hears an apology, Telnyx no 500
        return _unavailable(inbound.call_sid)
    tracing.annotate(session_id=answer.session_id, outcome=answer.kind)
    ctx = request.app[CONTEXT]
    codec = ctx.settings.telnyx_stream_codec
    if answer.kind == "stream" and answer.session_id and ctx.settings.early_provider_connect:
        audio = PCMA_8K if codec == "PCMA" else PCMU_8K  # the leg the TeXML asks for
        traits = call_traits(CAPABILITIES.for_call(audio))
        ctx.runner.connect_early(answer.session_id, traits)  # the greeting is ready on connect
    return _xml(_render(answer, inbound.call_sid, _signatures(request), codec))


async def status(request: web.Request) -> web.Response:
    """A call-progress event: record it (idempotently: duplicated, delayed and shuffled events
    converge on the latest real status) and end the session once the call is over."""
    fields = await signed_fields(request)
    call_sid = form_fields.call_sid(fields, CALL_SID)
    tracing.annotate(call_sid=call_sid)
    telephony = request.app[TELEPHONY]
    work = telephony.calls.record_status(
        call_sid,
        fields.get("CallStatus", "")[:20],
        form_fields.count(fields.get("SequenceNumber")),
        form_fields.count(fields.get("CallDuration")),
        carrier="telnyx",
    )
    # Within the deadline, or degraded (the work goes on in the background): the same answer.
    deadline_s = request.app[CONTEXT].settings.webhook_answer_deadline_s
    await telephony.late.run(work, deadline_s=deadline_s, what="telnyx_status", call_sid=call_sid)
    return _xml(ElementTree.Element("Response"))


async def after_stream(request: web.Request) -> web.Response:
    """The ``<Redirect>`` after our stream: what the caller hears once it has stopped."""
    fields = await signed_fields(request)
    call_sid = form_fields.call_sid(fields, CALL_SID)
    tracing.annotate(call_sid=call_sid)
    outcome = await after_stream_in_time(request, call_sid, "telnyx")
    if isinstance(outcome, Overdue) or outcome.kind == "apology":
        return _xml(say_and_hang_up(twiml.TROUBLE))
    if outcome.transfer_to:
        return _xml(dial_number(outcome.transfer_to))
    if outcome.conference:  # a warm transfer accepted: the human waits there
        return _xml(join_conference(outcome.conference))
    if outcome.kind == "dropped":  # accepted, then hung up before the caller got there
        return _xml(say_and_hang_up(DROPPED))
    return _xml(say_and_hang_up(twiml.GOODBYE))
