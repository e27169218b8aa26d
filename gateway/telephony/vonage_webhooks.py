"""Vonage's answer and event webhooks.

Each one first proves the request came from Vonage (an HS256 JWT in ``Authorization`` whose
``payload_hash`` covers the raw body, see ``vonage_signatures``) and answers 403 before any work
if not; with no signature secret configured they answer 503, never trusting an unsigned
request. The answer webhook comes as GET with query parameters (Vonage's default) or as POST
with a JSON body; both carry ``to``, ``from``, ``uuid`` (the call leg, which the REST API
controls) and ``conversation_uuid``. The answer is an NCCO made from the store alone: a
``connect`` to our media socket with L16 at the call's rate, the admission data riding in
the endpoint's ``headers`` (they come back in the socket's first message); or a ``talk`` when
the number is not in service. Numbers arrive as E.164 without the ``+``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from gateway import tracing
from gateway.context import CONTEXT, GatewayContext
from gateway.errors import BadRequest, Forbidden, Unavailable
from gateway.telephony import form_fields, twiml
from gateway.telephony.calls import CallAnswer, InboundCall
from gateway.telephony.service import TELEPHONY
from gateway.telephony.vonage_codec import (
    CALL_HEADER,
    SAMPLE_RATES_HZ,
    answer_rate,
    content_type,
)
from gateway.telephony.vonage_signatures import VonageSignatures
from providers.errors import ProviderError

log = logging.getLogger(__name__)

CALL_UUID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
MAX_FIELDS = 50
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
# Vonage's call statuses → the ones the call service ranks (Twilio's words).
STATUSES = {
    "started": "initiated",
    "ringing": "ringing",
    "answered": "answered",
    "completed": "completed",
    "busy": "busy",
    "failed": "failed",
    "rejected": "failed",
    "timeout": "no-answer",
    "unanswered": "no-answer",
    "cancelled": "canceled",
}


def _signatures(request: web.Request) -> VonageSignatures:
    signatures = request.app[TELEPHONY].vonage
    if signatures is None:
        log.error("vonage webhook refused: KURA_VONAGE_SIGNATURE_SECRET is not set")
        raise Unavailable("Vonage is not configured on this gateway")
    return signatures


def _fields(request: web.Request, body: bytes) -> dict[str, str]:
    """The webhook's flat fields: the query of a GET, else a JSON object (or a form)."""
    try:
        if request.method == "GET":
            pairs = parse_qsl(request.query_string, keep_blank_values=True,
                              max_num_fields=MAX_FIELDS)  # fmt: skip
            return dict(pairs)
        if request.content_type == FORM_TYPE:
            return dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS))
        if request.content_type != JSON_TYPE:
            raise BadRequest("unexpected content type")
        data = orjson.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:  # orjson's error is a ValueError too
        raise BadRequest("unreadable webhook body") from exc
    if not isinstance(data, dict) or len(data) > MAX_FIELDS:
        raise BadRequest("a JSON webhook must be an object")
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int) and type(v) is not bool}


async def signed_fields(request: web.Request) -> dict[str, str]:
    """The webhook's fields, once the JWT over its raw body (a GET: its query) checks out."""
    signatures = _signatures(request)
    body = await request.read()  # bounded by client_max_size: bigger bodies are a 413
    query = list(request.query.items())  # a GET's fields, which its payload_hash covers
    if not signatures.is_valid(request.headers.get("Authorization"), body, query):
        log.warning("vonage webhook refused: bad signature", extra={"path": request.path})
        raise Forbidden("invalid Vonage signature")
    return _fields(request, body)


def call_uuid_of(fields: Mapping[str, str]) -> str:
    value = fields.get("uuid", "")
    if not CALL_UUID.match(value):
        raise BadRequest("uuid is missing or malformed")
    return value


def e164(raw: str) -> str:
    """Vonage's ``447700900000`` as ``+447700900000``; anything else as it came."""
    text = raw.strip()
    return "+" + text if text.isascii() and text.isdigit() else text


def connect_websocket(
    media_url: str, event_url: str, rate_hz: int, headers: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The NCCO bridging the call to our media socket, both ways, in L16 at ``rate_hz``."""
    endpoint = {"type": "websocket", "uri": media_url, "content-type": content_type(rate_hz),
                "headers": dict(headers)}  # fmt: skip
    return [{"action": "connect", "eventUrl": [event_url], "endpoint": [endpoint]}]


def talk(message: str) -> list[dict[str, Any]]:
    """Say ``message``; the call ends with the NCCO."""
    return [{"action": "talk", "text": message}]


def ncco_response(ncco: list[dict[str, Any]]) -> web.Response:
    return web.Response(body=orjson.dumps(ncco), content_type=JSON_TYPE)


def _render(
    answer: CallAnswer, call_uuid: str, signatures: VonageSignatures, rate_hz: int
) -> list[dict[str, Any]]:
    if answer.kind == "stream" and answer.session_id and answer.media_token:
        headers = {"session_id": answer.session_id, "token": answer.media_token,
                   CALL_HEADER: call_uuid}  # fmt: skip
        return connect_websocket(signatures.media_url(), signatures.event_url(), rate_hz, headers)
    if answer.kind == "not_in_service":
        return talk(twiml.NOT_IN_SERVICE)
    return talk(twiml.GOODBYE)


async def voice(request: web.Request) -> web.Response:
    """An incoming call (GET or POST): a session and a websocket ``connect``, or a refusal."""
    ctx = request.app[CONTEXT]
    ctx.drain.refuse_new("calls")  # 503: Vonage tries the fallback answer URL
    fields = await signed_fields(request)
    inbound = InboundCall(
        call_sid=call_uuid_of(fields),
        from_raw=e164(fields.get("from", "")),
        to_raw=e164(fields.get("to", "")),
        direction=fields.get("direction", "inbound")[:20],
        carrier="vonage",
    )
    tracing.annotate(call_sid=inbound.call_sid)
    try:
        async with asyncio.timeout(ctx.settings.webhook_answer_deadline_s):
            answer = await request.app[TELEPHONY].calls.answer(inbound)
    except TimeoutError:
        log.error("voice webhook over its deadline", extra={"call_sid": inbound.call_sid})
        return ncco_response(talk(twiml.UNAVAILABLE))
    tracing.annotate(session_id=answer.session_id, outcome=answer.kind)
    rate_hz = rate_for(ctx, answer.provider)
    return ncco_response(_render(answer, inbound.call_sid, _signatures(request), rate_hz))


def rate_for(ctx: GatewayContext, provider: str | None) -> int:
    """The call's L16 rate: the configured one, or (``auto``) 8 kHz, carried as µ-law, for a
    provider that takes and speaks µ-law, else the one its provider needs the least resampling
    for. No I/O: the call service named the provider, so a retried webhook gets the same NCCO."""
    setting = ctx.settings.vonage_audio_rate
    if setting != "auto":
        return int(setting)
    if provider is None:
        return SAMPLE_RATES_HZ[-1]
    try:
        capabilities = ctx.providers.get(provider).capabilities("voice")
    except ProviderError:  # an unknown provider: the session will fail and apologise anyway
        return SAMPLE_RATES_HZ[-1]
    return answer_rate(capabilities.input_formats, capabilities.output_formats)


async def status(request: web.Request) -> web.Response:
    """A call event: record it (idempotently) and end the session once the call is over.
    Events of the websocket leg (its own UUID) and events that name no call leg or status
    (transfers, recordings) are acknowledged only: they are signed, and a non-2xx answer would
    only make Vonage send them again."""
    fields = await signed_fields(request)
    call_uuid = fields.get("uuid", "")
    call_status = STATUSES.get(fields.get("status", ""))
    if call_status is not None and CALL_UUID.match(call_uuid):
        tracing.annotate(call_sid=call_uuid)
        await request.app[TELEPHONY].calls.record_status(
            call_uuid,
            call_status,
            None,  # Vonage numbers no events: the status ranks order them
            form_fields.count(fields.get("duration")),
            carrier="vonage",
        )
    return web.Response(status=204)
