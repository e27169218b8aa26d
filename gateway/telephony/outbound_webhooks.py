"""The callbacks of the calls Kura places on Twilio or SignalWire: answer, call progress,
machine verdict.

Each URL carries the call's session id in its query string, which the carrier signs with the
rest of the URL (``X-Twilio-Signature``, or SignalWire's ``X-SignalWire-Signature``), so a
callback cannot be pointed at another call; the CallSid in the form must match the call as
well, and the call must be one placed on this carrier. Answers are TwiML (cXML).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiDictProxy

from gateway import tracing
from gateway.context import CONTEXT
from gateway.errors import Forbidden
from gateway.telephony import form_fields, twiml
from gateway.telephony.calls import CallAnswer
from gateway.telephony.compat_dialer import OutboundPaths
from gateway.telephony.service import TELEPHONY
from gateway.telephony.signalwire_webhooks import SIGNALWIRE
from gateway.telephony.twilio_webhooks import TWILIO, CompatDoor, reply

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def session_of(request: web.Request) -> str:
    """The session id a callback URL names (in its signed query string); 403 if none."""
    session_id = request.query.get("session", "")
    if not SESSION_ID.match(session_id):
        raise Forbidden("callback URL names no call")
    return session_id


@dataclass(frozen=True, slots=True)
class OutboundDoor:
    """One Twilio-compatible carrier's outbound callbacks, checked by its inbound door."""

    door: CompatDoor

    @property
    def paths(self) -> OutboundPaths:
        return OutboundPaths(self.door.prefix)

    async def _signed(self, request: web.Request) -> tuple[MultiDictProxy[str], str, str]:
        """The form, the session named by the URL and the CallSid, once the signature holds."""
        form = await self.door.signed_form(request)
        session_id = session_of(request)
        call_sid = form_fields.call_sid(form, self.door.call_sid)
        tracing.annotate(call_sid=call_sid, session_id=session_id)
        return form, session_id, call_sid

    def _render(self, answer: CallAnswer, request: web.Request) -> str:
        signatures = self.door.signatures(request.app[TELEPHONY])
        if answer.kind == "stream" and answer.session_id and answer.media_token and signatures:
            codec, _ = self.door.stream_format(request.app[CONTEXT], answer.provider)
            return twiml.connect_stream(
                signatures.media_url(),
                signatures.http_url(self.door.prefix + "/action"),
                {"session_id": answer.session_id, "token": answer.media_token},
                codec=codec,
            )
        return twiml.say_and_hang_up(twiml.GOODBYE) if answer.kind == "over" else twiml.empty()

    async def answered(self, request: web.Request) -> web.Response:
        """The callee answered: stream the call to its session at once."""
        _, session_id, call_sid = await self._signed(request)
        deadline_s = request.app[CONTEXT].settings.webhook_answer_deadline_s
        progress = request.app[TELEPHONY].progress
        answer = await progress.answered_in_time(
            session_id, call_sid, self.door.carrier, deadline_s
        )
        if answer is None:
            return reply(twiml.say_and_hang_up(twiml.UNAVAILABLE))
        return reply(self._render(answer, request))

    async def progress(self, request: web.Request) -> web.Response:
        """A status callback of an outbound call (queued → ringing → in-progress → the end)."""
        form, session_id, call_sid = await self._signed(request)
        await request.app[TELEPHONY].progress.status(
            session_id,
            call_sid,
            form.get("CallStatus", "")[:20],
            form_fields.count(form.get("SequenceNumber")),
            form_fields.count(form.get("CallDuration")),
            self.door.carrier,
        )
        return reply(twiml.empty())

    async def machine_verdict(self, request: web.Request) -> web.Response:
        """Asynchronous answering-machine detection's verdict (``AnsweredBy``)."""
        form, session_id, call_sid = await self._signed(request)
        answered_by = form.get("AnsweredBy", "unknown")[:32]
        await request.app[TELEPHONY].progress.machine_verdict(
            session_id, call_sid, answered_by, self.door.carrier
        )
        return reply(twiml.empty())


TWILIO_OUTBOUND = OutboundDoor(TWILIO)
SIGNALWIRE_OUTBOUND = OutboundDoor(SIGNALWIRE)
OUTBOUND_DOORS = (TWILIO_OUTBOUND, SIGNALWIRE_OUTBOUND)
