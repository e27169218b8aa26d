"""Telnyx Call Control events of the calls Kura places (``call.initiated``, ``call.answered``,
``call.hangup``, ``call.machine.detection.ended``).

Each event is proven Telnyx's (Ed25519 over ``timestamp|raw body``, as for TeXML) before it is
parsed; it names its call by ``call_control_id`` and its session by the ``client_state`` we set
when dialling, both inside the signed body, and the two must agree with the call we placed
(``OutboundProgress.call_of``). On answer the call's media stream is started through the REST
API with a fresh single-use token. Answers are an empty 200: Telnyx only needs to know the
event arrived. Events we do not act on (``streaming.started``, ``call.bridged`` …) get 200 too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from gateway import tracing
from gateway.errors import BadRequest, Forbidden, Unavailable
from gateway.telephony.outbound_webhooks import SESSION_ID
from gateway.telephony.service import TELEPHONY, Telephony
from gateway.telephony.telnyx_dialer import TelnyxDialer, session_of
from gateway.telephony.telnyx_signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER
from gateway.telephony.telnyx_webhooks import CALL_SID

log = logging.getLogger(__name__)

# Telnyx's hangup_cause of a call never answered → the call status we keep (Twilio's words).
UNANSWERED = {
    "user_busy": "busy", "call_rejected": "busy", "timeout": "no-answer",
    "no_answer": "no-answer", "originator_cancel": "canceled",
}  # fmt: skip
# result of call.machine.detection.ended / call.machine.greeting.ended → Twilio's AnsweredBy.
ANSWERED_BY = {
    "human": "human", "machine": "machine_start", "not_sure": "unknown",
    "beep_detected": "machine_end_beep", "ended": "machine_end_silence",
}  # fmt: skip


async def _signed_event(request: web.Request) -> Mapping[str, Any]:
    """The event's ``data``, once the signature over the raw body checks out."""
    signatures = request.app[TELEPHONY].telnyx
    if signatures is None:
        log.error("telnyx event refused: KURA_TELNYX_PUBLIC_KEY is not set")
        raise Unavailable("Telnyx is not configured on this gateway")
    body = await request.read()  # bounded by client_max_size: bigger bodies are a 413
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signatures.is_valid(request.headers.get(TIMESTAMP_HEADER), signature, body):
        log.warning("telnyx event refused: bad signature", extra={"path": request.path})
        raise Forbidden("invalid Telnyx signature")
    try:
        data = orjson.loads(body).get("data")
    except (ValueError, AttributeError) as exc:  # orjson's error is a ValueError
        raise BadRequest("unreadable Telnyx event") from exc
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        raise BadRequest("a Telnyx event has data.payload")
    return data


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def _duration_s(payload: Mapping[str, Any]) -> int | None:
    try:
        start = datetime.fromisoformat(_text(payload, "start_time"))
        end = datetime.fromisoformat(_text(payload, "end_time"))
    except ValueError:
        return None
    return max(0, round((end - start).total_seconds()))


Handler = Callable[[Telephony, str, str, Mapping[str, Any]], Awaitable[None]]


async def _initiated(telephony: Telephony, session_id: str, call_id: str, _: Any) -> None:
    await telephony.progress.status(session_id, call_id, "initiated", None, None, "telnyx")


async def _answered(telephony: Telephony, session_id: str, call_id: str, _: Any) -> None:
    """Start the call's stream with a fresh token; hang up a call whose session is over."""
    answer = await telephony.progress.answered(session_id, call_id, "telnyx")
    call = await telephony.progress.call_of(session_id, call_id, "telnyx")
    dialer = telephony.outbound.dialers.get("telnyx")
    if call is None or not isinstance(dialer, TelnyxDialer):
        return
    if answer.kind == "stream" and answer.media_token:
        if await dialer.start_stream(call, answer.media_token):
            return
        log.error("telnyx stream did not start; hanging up", extra={"session_id": session_id})
        await telephony.outbound.hang_up(call, "carrier_error")
        return
    await dialer.hang_up(call, ringing=False)


async def _hung_up(
    telephony: Telephony, session_id: str, call_id: str, payload: Mapping[str, Any]
) -> None:
    call = await telephony.progress.call_of(session_id, call_id, "telnyx")
    if call is None:
        return
    cause = _text(payload, "hangup_cause")
    status = "completed" if call.answered_at is not None else UNANSWERED.get(cause, "failed")
    await telephony.progress.status(
        session_id, call_id, status, None, _duration_s(payload), "telnyx"
    )


async def _machine(
    telephony: Telephony, session_id: str, call_id: str, payload: Mapping[str, Any]
) -> None:
    answered_by = ANSWERED_BY.get(_text(payload, "result"), "unknown")
    await telephony.progress.machine_verdict(session_id, call_id, answered_by, "telnyx")


HANDLERS: dict[str, Handler] = {
    "call.initiated": _initiated,
    "call.answered": _answered,
    "call.hangup": _hung_up,
    "call.machine.detection.ended": _machine,
    "call.machine.greeting.ended": _machine,
}


async def events(request: web.Request) -> web.Response:
    """One Call Control event of an outbound call."""
    data = await _signed_event(request)
    handler = HANDLERS.get(_text(data, "event_type"))
    if handler is None:
        return web.json_response({})
    payload = data["payload"]
    call_id = _text(payload, "call_control_id")
    session_id = session_of(_text(payload, "client_state")) or ""
    if not CALL_SID.match(call_id) or not SESSION_ID.match(session_id):
        log.warning("telnyx event refused: names no call of ours", extra={"path": request.path})
        raise Forbidden("this event names no call placed by Kura")
    tracing.annotate(call_sid=call_id, session_id=session_id)
    await handler(request.app[TELEPHONY], session_id, call_id, payload)
    return web.json_response({})
