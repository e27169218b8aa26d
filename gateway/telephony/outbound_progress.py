"""What the carrier tells us about an outbound call: it was answered, its status moved on, an
answering machine was (or was not) detected.

Each callback names its session in the (signed) URL and the call by CallSid in the form; the
two must agree, and the first callback to arrive binds the SID to a call still provisional.
The assistant starts on answer (a ``<Connect><Stream>`` at once), never held back by the
machine verdict, which arrives later on its own callback (``AsyncAmd``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gateway.errors import Forbidden
from gateway.store import Store
from gateway.store.keys import hash_secret
from gateway.store.models import Call
from gateway.telephony.calls import TERMINAL_STATUSES, CallAnswer, CallService
from gateway.telephony.outbound import OutboundCalls, is_provisional
from kinds.clock import Clock

log = logging.getLogger(__name__)

MESSAGE_END = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})
MACHINE = MESSAGE_END | {"machine_start", "fax"}


def verdict_of(answered_by: str) -> str:
    """Twilio's ``AnsweredBy`` as stored: human, machine or unknown."""
    if answered_by == "human":
        return "human"
    return "machine" if answered_by in MACHINE else "unknown"


class OutboundProgress:
    def __init__(
        self,
        store: Store,
        calls: CallService,
        outbound: OutboundCalls,
        clock: Clock,
        *,
        media_token_ttl_s: float,
    ) -> None:
        self._store = store
        self._calls = calls
        self._outbound = outbound
        self._clock = clock
        self._token_ttl = timedelta(seconds=media_token_ttl_s)

    async def call_of(self, session_id: str, call_sid: str, carrier: str = "twilio") -> Call | None:
        """The outbound call of ``session_id``, bound to ``call_sid``; refused when the
        callback names another call than the one bound, or comes from another carrier."""
        call = await self._store.calls.get_by_session(session_id)
        if call is None or call.direction != "outbound":
            return None
        if call.carrier != carrier:
            log.warning(
                "outbound callback from another carrier",
                extra={"session_id": session_id, "carrier": carrier},
            )
            raise Forbidden("this call is placed on another carrier")
        if is_provisional(call):
            if await self._store.calls.bind_sid(
                call.id, call.call_sid, call_sid, self._clock.now()
            ):
                call.call_sid = call_sid
            else:
                call = await self._store.calls.get(call.id) or call
        if call.call_sid != call_sid:
            log.warning("outbound callback for another call", extra={"session_id": session_id})
            raise Forbidden("this callback names another call")
        return call

    async def adopt(self, session_id: str, request_id: str, call_id: str, carrier: str) -> None:
        """A carrier that answers a dial with a request id and names the call itself in its
        callbacks (Plivo): the call moves from the one id to the other, once."""
        call = await self._store.calls.get_by_session(session_id)
        if call is None or call.carrier != carrier or not request_id:
            return
        if call.call_sid == request_id and request_id != call_id:
            await self._store.calls.bind_sid(call.id, request_id, call_id, self._clock.now())

    async def answered_in_time(
        self, session_id: str, call_sid: str, carrier: str, deadline_s: float
    ) -> CallAnswer | None:
        """``answered`` within the answer webhook's deadline; None past it (logged), so a
        stalled database does not leave the callee in silence until the carrier gives up."""
        try:
            async with asyncio.timeout(deadline_s):
                return await self.answered(session_id, call_sid, carrier)
        except TimeoutError:
            log.error("outbound answer webhook over its deadline", extra={"session_id": session_id})
            return None

    async def answered(self, session_id: str, call_sid: str, carrier: str = "twilio") -> CallAnswer:
        """The callee picked up: the stream's TwiML with a fresh single-use token, and the
        call's hard deadline armed from now."""
        call = await self.call_of(session_id, call_sid, carrier)
        session = await self._store.sessions.get(session_id) if call else None
        if call is None or session is None or session.status != "pending":
            return CallAnswer("over")
        now = self._clock.now()
        token = self._calls.media_token(call_sid, session_id)
        await self._store.calls.update_fields(
            call.id,
            {
                "media_token_hash": hash_secret(token),
                "media_token_expires_at": now + self._token_ttl,
            },
            now,
        )
        await self._store.calls.set_once(call.id, "answered_at", now, now)
        await self.status(session_id, call_sid, "in-progress", None, None, carrier)
        self._calls.arm_deadline(session_id, call.max_duration_s)
        log.info("outbound call answered", extra={"session_id": session_id})
        # Its provider, for a carrier that picks the stream's audio for it (SignalWire).
        assistant = await self._store.assistants.get(session.assistant_id, include_deleted=True)
        return CallAnswer("stream", session_id, token, assistant.provider if assistant else None)

    async def status(
        self,
        session_id: str,
        call_sid: str,
        status: str,
        sequence_number: int | None,
        duration_s: int | None,
        carrier: str = "twilio",
    ) -> None:
        if await self.call_of(session_id, call_sid, carrier) is None:
            return
        await self._calls.record_status(
            call_sid, status, sequence_number, duration_s, carrier=carrier
        )

    async def machine_verdict(
        self, session_id: str, call_sid: str, answered_by: str, carrier: str = "twilio"
    ) -> None:
        """``AnsweredBy``: a human changes nothing; a machine ends a ``detect`` call, and a
        ``leave_message`` call hears its message once after the beep, then hangs up."""
        call = await self.call_of(session_id, call_sid, carrier)
        if call is None:
            return
        now = self._clock.now()
        verdict = verdict_of(answered_by)
        await self._store.calls.update_fields(call.id, {"answered_by": verdict}, now)
        log.info("answering-machine verdict", extra={"session_id": session_id, "verdict": verdict})
        if verdict != "machine" or call.status in TERMINAL_STATUSES:
            return
        if call.machine_detection == "detect" or answered_by == "fax":
            await self._outbound.hang_up(call, "voicemail")
        elif call.machine_detection == "leave_message" and answered_by in MESSAGE_END:
            await self._leave_message(call)

    async def _leave_message(self, call: Call) -> None:
        now = self._clock.now()
        message = call.voicemail_message or ""
        dialer = self._outbound.dialers.get(call.carrier)
        if not message or dialer is None:
            await self._outbound.hang_up(call, "voicemail")
            return
        if not await self._store.calls.set_once(call.id, "voicemail_played", True, now):
            return  # a repeated callback: the message is left once
        await self._store.calls.set_once(call.id, "end_reason", "voicemail", now)
        if not await dialer.leave_message(call, message):
            await self._outbound.hang_up(call, "voicemail")
            return
        await self._outbound.end_session(call, "voicemail")
