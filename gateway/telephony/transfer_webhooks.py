"""The webhooks of a warm transfer's human leg: answered (the whisper), the key, its status.

``/telephony/twilio/transfer/{transfer_id}/{answer|decision|status}``. Each is signed by Twilio
(checked like every Twilio webhook, over the whole form) and must come from the very leg the
transfer placed (its ``CallSid``); the id is a random token and the URLs carry no number. A
transfer this node does not hold (over, or never ours) gets a polite goodbye for the human.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import MultiDictProxy

from gateway import tracing
from gateway.context import CONTEXT
from gateway.errors import Forbidden
from gateway.store import Store
from gateway.store.models import Turn
from gateway.telephony import form_fields, twiml
from gateway.telephony.service import TELEPHONY
from gateway.telephony.transfer import TRANSFER_ROUTE, WarmTransfer
from gateway.telephony.transfer_machine import LEG_STATUS_EVENTS
from gateway.telephony.transfer_twiml import (
    ACCEPT_KEY,
    DECLINED,
    GONE,
    conference_name,
    join_conference,
    whisper,
)
from gateway.telephony.twilio_webhooks import CALL_SID, TWILIO, reply

log = logging.getLogger(__name__)

RECENT_TURNS = 4
TURN_CHARS = 200


async def _transfer_of(request: web.Request) -> tuple[WarmTransfer | None, MultiDictProxy[str]]:
    """The transfer this signed webhook is about, if this node holds it and the leg is its."""
    form = await TWILIO.signed_form(request)
    leg_sid = form_fields.call_sid(form, CALL_SID)
    transfer_id = request.match_info["transfer_id"]
    tracing.annotate(call_sid=leg_sid, transfer_id=transfer_id)
    transfer = request.app[TELEPHONY].transfers.get(transfer_id)
    if transfer is not None and transfer.row.leg_sid not in (None, leg_sid):
        log.warning("transfer webhook from another call", extra={"transfer_id": transfer_id})
        raise Forbidden("this call is not the transfer's")
    if transfer is None:
        log.info("transfer webhook for no live transfer", extra={"transfer_id": transfer_id})
    return transfer, form


async def answered(request: web.Request) -> web.Response:
    """The human picked up: the whisper, and one key to decide."""
    transfer, _form = await _transfer_of(request)
    if transfer is None or await transfer.on_event("answered") != "whispering":
        return reply(twiml.say_and_hang_up(GONE))
    ctx = request.app[CONTEXT]
    summary = transfer.summary or await summary_from_transcript(ctx.store, transfer.row.session_id)
    signatures = request.app[TELEPHONY].signatures
    assert signatures is not None  # signed_form proved it configured
    hook = TRANSFER_ROUTE.replace("{transfer_id}", transfer.id).replace("{hook}", "decision")
    timeout_s = ctx.settings.transfer_whisper_timeout_s
    return reply(whisper(summary, signatures.http_url(hook), timeout_s))


async def decision(request: web.Request) -> web.Response:
    """The key the human pressed after the whisper (none: the whisper timed out)."""
    transfer, form = await _transfer_of(request)
    if transfer is None:
        return reply(twiml.say_and_hang_up(GONE))
    accepted = form.get("Digits", "")[:1] == ACCEPT_KEY
    state = await transfer.on_event("accept" if accepted else "decline")
    if state == "accepted":
        return reply(join_conference(conference_name(transfer.id), first=True))
    return reply(twiml.say_and_hang_up(DECLINED if state == "declined" else GONE))


async def leg_status(request: web.Request) -> web.Response:
    """The human leg's status callbacks: ringing, busy, no answer, hung up …"""
    transfer, form = await _transfer_of(request)
    event = LEG_STATUS_EVENTS.get(form.get("CallStatus", ""))
    # ``in-progress`` is the answer webhook's to tell: it comes with the whisper's TwiML.
    if transfer is not None and event is not None and event != "answered":
        await transfer.on_event(event)
    return reply(twiml.empty())


async def summary_from_transcript(store: Store, session_id: str) -> str:
    """The call so far in the transcript's last turns, when the assistant gave no summary."""
    turns = [turn for turn in await store.sessions.turns(session_id) if turn.text.strip()]
    if not turns:
        return "There is no summary of the call."
    return " ".join(_said(turn) for turn in turns[-RECENT_TURNS:])


def _said(turn: Turn) -> str:
    who = "The caller" if turn.role == "user" else "The assistant"
    text = turn.text.strip()
    if len(text) > TURN_CHARS:
        text = text[:TURN_CHARS].rsplit(" ", 1)[0] + " …"
    return f"{who} said: {text}"


Webhook = Callable[[web.Request], Awaitable[web.Response]]


def add_transfer_routes(app: web.Application, timed: Callable[[str, Webhook], Webhook]) -> None:
    """Route the three webhooks (``timed`` wraps each for the latency metric and tracing)."""
    for hook, handler in (("answer", answered), ("decision", decision), ("status", leg_status)):
        path = TRANSFER_ROUTE.replace("{hook}", hook)
        app.router.add_post(path, timed(f"transfer_{hook}", handler))
