"""Plivo's callbacks for the calls Kura places: answer, ring and hangup, machine detection.

Each is proven Plivo's (V3 signature over the URL with its query, the form and a nonce) before
any work; the URL names the call's session, the form its ``CallUUID`` (and the ``RequestUUID``
the dial was answered with, which the first callback trades for the ``CallUUID``). The answer
streams the call to its session at once, as an inbound Plivo call is streamed; the stream's
end goes to the inbound after-stream door, which says goodbye (or transfers).
"""

from __future__ import annotations

import logging
from xml.etree import ElementTree

from aiohttp import web
from multidict import MultiDict

from gateway import tracing
from gateway.context import CONTEXT
from gateway.telephony import form_fields, twiml
from gateway.telephony.outbound_webhooks import session_of
from gateway.telephony.plivo_codec import CALL_PARAMETER
from gateway.telephony.plivo_signatures import ACTION_PATH
from gateway.telephony.plivo_webhooks import (
    STATUSES,
    call_uuid_of,
    signed_form,
    speak_and_hang_up,
    stream_answer,
    xml_response,
)
from gateway.telephony.service import TELEPHONY

log = logging.getLogger(__name__)


async def _signed(request: web.Request) -> tuple[MultiDict[str], str, str]:
    """The form, the session the URL names and the CallUUID, the call bound to it."""
    form = await signed_form(request)
    session_id = session_of(request)
    call_uuid = call_uuid_of(form)
    tracing.annotate(call_sid=call_uuid, session_id=session_id)
    progress = request.app[TELEPHONY].progress
    await progress.adopt(session_id, form.get("RequestUUID", ""), call_uuid, "plivo")
    return form, session_id, call_uuid


async def answered(request: web.Request) -> web.Response:
    """The callee answered: stream the call to its session at once."""
    _, session_id, call_uuid = await _signed(request)
    telephony = request.app[TELEPHONY]
    deadline_s = request.app[CONTEXT].settings.webhook_answer_deadline_s
    answer = await telephony.progress.answered_in_time(session_id, call_uuid, "plivo", deadline_s)
    if answer is None:
        return xml_response(speak_and_hang_up(twiml.UNAVAILABLE))
    signatures = telephony.plivo
    if answer.kind != "stream" or not answer.media_token or signatures is None:
        return xml_response(speak_and_hang_up(twiml.GOODBYE))
    parameters = {"session_id": session_id, "token": answer.media_token, CALL_PARAMETER: call_uuid}
    return xml_response(
        stream_answer(signatures.media_url(), signatures.http_url(ACTION_PATH), parameters)
    )


async def progress(request: web.Request) -> web.Response:
    """The ring and hangup callbacks: the call's status (ringing → the end)."""
    form, session_id, call_uuid = await _signed(request)
    raw = form.get("CallStatus", "")[:20]
    await request.app[TELEPHONY].progress.status(
        session_id, call_uuid, STATUSES.get(raw, raw), None,
        form_fields.count(form.get("Duration")), "plivo",
    )  # fmt: skip
    return xml_response(ElementTree.Element("Response"))


async def machine_verdict(request: web.Request) -> web.Response:
    """Plivo's machine detection: ``Machine`` is ``true`` or ``false``."""
    form, session_id, call_uuid = await _signed(request)
    machine = form.get("Machine", "").lower()
    answered_by = {"true": "machine_start", "false": "human"}.get(machine, "unknown")
    await request.app[TELEPHONY].progress.machine_verdict(
        session_id, call_uuid, answered_by, "plivo"
    )
    return xml_response(ElementTree.Element("Response"))
