"""Twilio's callbacks for the calls Kura places: answer, call progress, machine verdict.

Each URL carries the call's session id in its query string, which Twilio signs with the rest
of the URL (``X-Twilio-Signature``), so a callback cannot be pointed at another call; the
CallSid in the form must match the call as well. Answers are TwiML.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web

from gateway import tracing
from gateway.context import CONTEXT
from gateway.errors import Forbidden
from gateway.telephony import form_fields, twiml
from gateway.telephony.calls import CallAnswer
from gateway.telephony.outbound_progress import OutboundProgress
from gateway.telephony.service import TELEPHONY, Telephony
from gateway.telephony.signatures import ACTION_PATH
from gateway.telephony.twilio_webhooks import CALL_SID, reply, signed_form

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _session_of(request: web.Request) -> str:
    session_id = request.query.get("session", "")
    if not SESSION_ID.match(session_id):
        raise Forbidden("callback URL names no call")
    return session_id


def _progress(telephony: Telephony) -> OutboundProgress:
    return telephony.progress


def _render(answer: CallAnswer, telephony: Telephony) -> str:
    signatures = telephony.signatures
    if answer.kind == "stream" and answer.session_id and answer.media_token and signatures:
        return twiml.connect_stream(
            signatures.media_url(),
            signatures.http_url(ACTION_PATH),
            {"session_id": answer.session_id, "token": answer.media_token},
        )
    return twiml.say_and_hang_up(twiml.GOODBYE) if answer.kind == "over" else twiml.empty()


async def answered(request: web.Request) -> web.Response:
    """The callee answered: stream the call to its session at once."""
    form = await signed_form(request)
    session_id = _session_of(request)
    call_sid = form_fields.call_sid(form, CALL_SID)
    tracing.annotate(call_sid=call_sid, session_id=session_id)
    telephony = request.app[TELEPHONY]
    try:
        async with asyncio.timeout(request.app[CONTEXT].settings.webhook_answer_deadline_s):
            answer = await _progress(telephony).answered(session_id, call_sid)
    except TimeoutError:
        # A stalled database must not leave the callee in silence until Twilio gives up.
        log.error("outbound answer webhook over its deadline", extra={"session_id": session_id})
        return reply(twiml.say_and_hang_up(twiml.UNAVAILABLE))
    return reply(_render(answer, telephony))


async def progress(request: web.Request) -> web.Response:
    """A status callback of an outbound call (queued → ringing → in-progress → the end)."""
    form = await signed_form(request)
    session_id = _session_of(request)
    call_sid = form_fields.call_sid(form, CALL_SID)
    tracing.annotate(call_sid=call_sid, session_id=session_id)
    await _progress(request.app[TELEPHONY]).status(
        session_id,
        call_sid,
        form.get("CallStatus", "")[:20],
        form_fields.count(form.get("SequenceNumber")),
        form_fields.count(form.get("CallDuration")),
    )
    return reply(twiml.empty())


async def machine_verdict(request: web.Request) -> web.Response:
    """Asynchronous answering-machine detection's verdict (``AnsweredBy``)."""
    form = await signed_form(request)
    session_id = _session_of(request)
    call_sid = form_fields.call_sid(form, CALL_SID)
    tracing.annotate(call_sid=call_sid, session_id=session_id)
    answered_by = form.get("AnsweredBy", "unknown")[:32]
    await _progress(request.app[TELEPHONY]).machine_verdict(session_id, call_sid, answered_by)
    return reply(twiml.empty())
