"""Vonage's answer and event webhooks for the calls Kura places.

Each is proven Vonage's (the HS256 JWT, its ``payload_hash`` over the body) before any work.
The URL names the call's session; the call leg ``uuid`` Vonage sends must be the call's (see
``vonage_dialer``). The answer bridges the call to its session at once, as an inbound Vonage
call is bridged; events move its status on, and carry the advanced machine detection's
verdict (``status`` human or machine, ``sub_state`` ``beep_start`` once a greeting ends).
"""

from __future__ import annotations

import logging

from aiohttp import web

from gateway import tracing
from gateway.context import CONTEXT
from gateway.telephony import form_fields, twiml
from gateway.telephony.outbound_webhooks import session_of
from gateway.telephony.service import TELEPHONY
from gateway.telephony.vonage_codec import CALL_HEADER
from gateway.telephony.vonage_webhooks import (
    STATUSES,
    call_uuid_of,
    connect_websocket,
    ncco_response,
    rate_for,
    signed_fields,
    talk,
)

log = logging.getLogger(__name__)

# Advanced machine detection's sub_state of a machine → Twilio's AnsweredBy.
MACHINE_SUB_STATES = {"beep_start": "machine_end_beep", "beep_timeout": "machine_end_other"}


async def answered(request: web.Request) -> web.Response:
    """The callee answered (GET or POST): bridge the call to its session at once."""
    fields = await signed_fields(request)
    session_id, call_uuid = session_of(request), call_uuid_of(fields)
    tracing.annotate(call_sid=call_uuid, session_id=session_id)
    ctx, telephony = request.app[CONTEXT], request.app[TELEPHONY]
    deadline_s = ctx.settings.webhook_answer_deadline_s
    answer = await telephony.progress.answered_in_time(session_id, call_uuid, "vonage", deadline_s)
    if answer is None:
        return ncco_response(talk(twiml.UNAVAILABLE))
    signatures = telephony.vonage
    if answer.kind != "stream" or not answer.media_token or signatures is None:
        return ncco_response(talk(twiml.GOODBYE))
    headers = {"session_id": session_id, "token": answer.media_token, CALL_HEADER: call_uuid}
    return ncco_response(
        connect_websocket(
            signatures.media_url(), signatures.event_url(), rate_for(ctx, None), headers
        )
    )


async def progress(request: web.Request) -> web.Response:
    """A call event: its status, or the machine detection's verdict."""
    fields = await signed_fields(request)
    session_id, call_uuid = session_of(request), call_uuid_of(fields)
    tracing.annotate(call_sid=call_uuid, session_id=session_id)
    outbound = request.app[TELEPHONY].progress
    raw = fields.get("status", "")
    if raw == "human":
        await outbound.machine_verdict(session_id, call_uuid, "human", "vonage")
    elif raw == "machine":
        verdict = MACHINE_SUB_STATES.get(fields.get("sub_state", ""), "machine_start")
        await outbound.machine_verdict(session_id, call_uuid, verdict, "vonage")
    elif (status := STATUSES.get(raw)) is not None:
        duration_s = form_fields.count(fields.get("duration"))
        await outbound.status(session_id, call_uuid, status, None, duration_s, "vonage")
    return web.Response(status=204)
