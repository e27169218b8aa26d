"""Phone calls as sessions: answer, track the carrier's status, decide what follows the stream.

An incoming call makes its session through ``SessionService.create`` like ``POST /sessions``
(``channel="phone"``, the caller as ``phone_number``), so contacts, listings and ``DELETE`` work
the same. Every method is idempotent: carriers retry webhooks and send callbacks twice or out of
order. Nothing here talks to an AI provider, so answering never waits on one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError

from gateway import metrics
from gateway.errors import Forbidden, NotFound
from gateway.sessions.events import PostCallEvents
from gateway.sessions.service import NewSession, SessionService
from gateway.state.call_slots import CallSlots
from gateway.store import Store
from gateway.store.calls import CallLookup
from gateway.store.keys import hash_secret
from gateway.store.models import Assistant, Call, PhoneNumber, Session
from gateway.telephony.after_stream import (
    AfterStream,
    cut_off,
    tell_transferred,
    transfer_number,
    warm_bridge,
)
from gateway.telephony.call_deadlines import CallDeadlines
from gateway.telephony.call_limits import CallLimits, call_limits, slot_lease_s
from gateway.telephony.caller_id import caller_number, dialled_number
from gateway.telephony.keyed_locks import KeyedLocks
from kinds.clock import Clock

CallOverHook = Callable[[str, str], Awaitable[None]]

log = logging.getLogger(__name__)

MEDIA_TOKEN_PREFIX = "kura_mt_"  # noqa: S105 - a prefix, not a secret
_RANK = {"queued": 1, "initiated": 1, "ringing": 2, "in-progress": 3, "answered": 3}
TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
_RANK.update(dict.fromkeys(TERMINAL_STATUSES, 4))
_SEQUENCE_SPAN = 1_000_000  # status_order = rank * span + SequenceNumber; ranks dominate
END_REASONS = {"completed": "completed", "busy": "busy", "no-answer": "no_answer",
               "failed": "failed", "canceled": "canceled"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class InboundCall:
    """The parts of an incoming-call webhook the gateway uses."""

    call_sid: str
    from_raw: str
    to_raw: str
    direction: str = "inbound"
    carrier: str = "twilio"


@dataclass(frozen=True, slots=True)
class CallAnswer:
    """What to tell the carrier: stream to our media socket, or a message and hang up."""

    kind: Literal["stream", "not_in_service", "over", "busy"]
    session_id: str | None = None
    media_token: str | None = None
    provider: str | None = None
    """The provider of the session's assistant (a carrier may pick its audio format for it)."""


def status_order(status: str, sequence_number: int | None) -> int | None:
    """How late ``status`` is in a call's life (``None`` for a status we do not know).

    Ranks come first because a call never goes back from ``completed`` to ``ringing``; the
    carrier's SequenceNumber orders callbacks within a rank."""
    rank = _RANK.get(status)
    if rank is None:
        return None
    return rank * _SEQUENCE_SPAN + min(max(sequence_number or 0, 0), _SEQUENCE_SPAN - 1)


def _same_carrier(expected: str, carrier: str) -> None:
    """Refuse a webhook from a carrier that does not serve this number (or call)."""
    if expected != carrier:
        log.warning(
            "webhook refused: the number is another carrier's",
            extra={"carrier": carrier, "number_carrier": expected},
        )
        raise Forbidden("this number is served by another carrier")


def _in_service(found: CallLookup, to_number: str | None) -> bool:
    """The dialled number is enabled and routes to a live assistant (logged when not)."""
    number = found.number
    if to_number is None or number is None or not number.enabled:
        log.info("call to an unassigned or disabled number", extra={"to_number": to_number})
        return False
    if found.assistant is None:
        log.warning("number routes to a deleted assistant", extra={"number_id": number.id})
        return False
    return True


class CallService:
    """Calls and their sessions; shared by the webhooks and (later) the media bridge."""

    def __init__(
        self,
        store: Store,
        sessions: SessionService,
        clock: Clock,
        *,
        token_key: bytes,
        media_token_ttl_s: float,
        slots: CallSlots | None = None,
        limits: CallLimits | None = None,
        deadlines: CallDeadlines | None = None,
        events: PostCallEvents | None = None,
    ) -> None:
        self._events = events
        self.slots = slots
        self.limits = limits or CallLimits()
        self.deadlines = deadlines
        self._store = store
        self._sessions = sessions
        self._clock = clock
        self._token_key = token_key
        self._token_ttl = timedelta(seconds=media_token_ttl_s)
        self._locks = KeyedLocks()  # a retry racing the first request on this node waits
        self.call_over_hook: CallOverHook | None = None
        """Told ``(call_sid, carrier)`` once a call is over: a warm transfer still bridging
        has lost its caller (set by ``build_telephony``, which knows each carrier's legs)."""

    def media_token(self, call_sid: str, session_id: str) -> str:
        """The media-socket token of a call: derived, not random, so a retried webhook gets
        byte-identical TwiML and a replayed one cannot invalidate the token in flight. Only
        its hash is stored; redeeming it clears the hash (single use)."""
        message = f"kura-media-token|{call_sid}|{session_id}".encode()
        digest = hmac.new(self._token_key, message, hashlib.sha256).digest()
        return MEDIA_TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    async def answer(self, call: InboundCall) -> CallAnswer:
        """Route a new call to its number's assistant, once per CallSid."""
        to_number = dialled_number(call.to_raw)
        async with self._locks.hold(call.call_sid):
            found = await self._store.calls.lookup(call.call_sid, to_number)
            if found.call is not None:
                _same_carrier(found.call.carrier, call.carrier)
                return await self._answer_again(found.call)
            return await self._answer_new(call, to_number, found)

    async def _answer_new(
        self, call: InboundCall, to_number: str | None, found: CallLookup
    ) -> CallAnswer:
        number, assistant = found.number, found.assistant
        if not _in_service(found, to_number) or to_number is None or number is None:
            return CallAnswer("not_in_service")
        if assistant is None:  # _in_service said so already; this tells the type checker
            return CallAnswer("not_in_service")
        _same_carrier(number.carrier, call.carrier)
        caller = caller_number(call.from_raw)
        metadata = {"carrier": call.carrier, "call_sid": call.call_sid, "to": to_number,
                    "direction": call.direction, "caller_withheld": caller is None}  # fmt: skip
        session_id = str(uuid.uuid4())
        if await self.take_slots(session_id, number, assistant, None) is not None:
            log.info("call refused: concurrent-call limit", extra={"number_id": number.id})
            metrics.CALLS_REFUSED_BUSY.inc()
            return CallAnswer("busy")
        try:
            created = await self._sessions.create(
                NewSession(
                    assistant_id=number.assistant_id,
                    phone_number=caller,
                    language_code=assistant.language_code,
                    metadata=metadata,
                    channel="phone",
                    session_id=session_id,
                ),
                assistant=assistant,
                companions=lambda session_id: [
                    self._call_row(call, session_id, to_number, caller, number)
                ],
            )
        except IntegrityError:
            await self.release_slots(session_id)
            # Another node stored this CallSid first (its unique key rolled our session back
            # with the call row): answer with its session.
            winner = await self._store.calls.get_by_sid(call.call_sid)
            if winner is None:
                raise
            return await self._answer_again(winner)
        session_id = created.session.id
        self.arm_deadline(session_id, assistant.max_duration_s)
        log.info(
            "call answered",
            extra={"session_id": session_id, "call_sid": call.call_sid,
                   "to_number": to_number, "from_number": caller},
        )  # fmt: skip
        token = self.media_token(call.call_sid, session_id)
        return CallAnswer("stream", session_id, token, assistant.provider)

    async def take_slots(
        self, session_id: str, number: PhoneNumber, assistant: Assistant, max_s: int | None
    ) -> str | None:
        """Take the call's concurrent-call slots (holder: its session id): ``None`` when taken
        (or when nothing counts slots here), else the key that is at its limit."""
        if self.slots is None:
            return None
        limits = call_limits(number, assistant, self.limits)
        return await self.slots.acquire(session_id, limits, slot_lease_s(self.limits, max_s))

    async def release_slots(self, session_id: str) -> None:
        if self.slots is not None:
            await self.slots.release(session_id)

    def arm_deadline(self, session_id: str, max_s: int | None) -> None:
        """Hang the call up after ``max_s`` (or the deployment's limit) from now."""
        if self.deadlines is not None:
            self.deadlines.schedule(session_id, max_s or self.limits.max_duration_s)

    async def call_over(self, call: Call) -> None:
        """A call reached its end (a final status, or its stream closed): its end time and
        reason (the first one given stays), its slots and its deadline are settled."""
        now = self._clock.now()
        if call.status in TERMINAL_STATUSES:
            reason = END_REASONS.get(call.status, call.status)
            await self._store.calls.set_once(call.id, "end_reason", reason, now)
        await self._store.calls.set_once(call.id, "ended_at", now, now)
        await self.release_slots(call.session_id)
        if self.deadlines is not None:
            self.deadlines.cancel(call.session_id)

    def _call_row(
        self,
        call: InboundCall,
        session_id: str,
        to_number: str,
        caller: str | None,
        number: PhoneNumber,
    ) -> Call:
        now = self._clock.now()
        order = status_order("ringing", 0)
        return Call(
            call_sid=call.call_sid,
            carrier=call.carrier,
            session_id=session_id,
            to_number=to_number,
            status="ringing",
            status_order=order,
            transfer_requested=False,
            media_token_hash=hash_secret(self.media_token(call.call_sid, session_id)),
            media_token_expires_at=now + self._token_ttl,
            direction="inbound",
            from_number=caller,
            assistant_id=number.assistant_id,
            number_id=number.id,
            machine_detection="off",
            created_at=now,
            updated_at=now,
        )

    async def _answer_again(self, call: Call) -> CallAnswer:
        """A retried (or replayed) webhook: the same session and the same TwiML while the
        session waits for its stream; once it has run, the call is over."""
        session = await self._store.sessions.get(call.session_id)
        if session is None or session.status != "pending" or call.media_token_hash is None:
            return CallAnswer("over")
        log.info("voice webhook retried", extra={"session_id": session.id})
        assistant = await self._store.assistants.get(session.assistant_id, include_deleted=True)
        token = self.media_token(call.call_sid, session.id)
        return CallAnswer("stream", session.id, token, assistant.provider if assistant else None)

    async def record_status(
        self,
        call_sid: str,
        status: str,
        sequence_number: int | None,
        duration_s: int | None,
        *,
        carrier: str = "twilio",
    ) -> None:
        """Apply a status callback: keep the latest real status, and end the session once
        the call is over. A callback from another carrier than the call's is refused."""
        order = status_order(status, sequence_number)
        if order is None:
            log.info("unknown call status ignored", extra={"call_status": status[:40]})
            return
        stored = await self._store.calls.get_by_sid(call_sid)
        if stored is not None:
            _same_carrier(stored.carrier, carrier)
        now = self._clock.now()
        await self._store.calls.record_status(call_sid, status, order, duration_s, now)
        call = await self._store.calls.get_by_sid(call_sid)
        if call is not None and call.status in TERMINAL_STATUSES:
            await self.call_over(call)
            await self._end_session(call.session_id, "call_" + call.status.replace("-", "_"))
            if self.call_over_hook is not None:
                await self.call_over_hook(call_sid, carrier)

    async def after_stream(self, call_sid: str) -> AfterStream:
        """The stream has closed: end its session, and say what follows. A transfer when the
        conversation asked for one; when the session was cut off on our side (still live here,
        so its node was lost; or ended by a drain or a lost node) the assistant's transfer
        number if it has one, else an apology; otherwise goodbye."""
        call = await self._store.calls.get_by_sid(call_sid)
        if call is None:
            return AfterStream("goodbye")
        session = await self._store.sessions.get(call.session_id)
        warm = await warm_bridge(self._store, self._clock, self._events, call, session)
        if warm is not None:
            await self.call_over(call)
            await self._end_session(call.session_id, "transferred")
            return warm
        was_cut_off = cut_off(session)
        transfer_to = None
        if call.transfer_requested or was_cut_off:
            warn = call.transfer_requested
            transfer_to = await transfer_number(self._store, call, session, warn=warn)
        await self.call_over(call)
        if transfer_to:
            await self._end_session(call.session_id, "transferred")
            # A retried action webhook transfers again, but the event is told once.
            if session is not None and session.end_reason != "transferred":
                await tell_transferred(self._store, self._events, session, transfer_to)
            return AfterStream("transfer", transfer_to)
        if was_cut_off:
            log.warning("stream cut off on our side; apologising", extra={"call_sid": call_sid})
            await self._end_session(call.session_id, "stream_lost")
            return AfterStream("apology")
        await self._end_session(call.session_id, "stream_ended")
        return AfterStream("goodbye")

    async def _end_session(self, session_id: str, reason: str) -> None:
        # NotFound: the session expired without ever connecting, so nothing is left to end.
        with contextlib.suppress(NotFound):
            await self._sessions.end(session_id, reason)  # reaches a live conversation too

    async def request_transfer(self, session_id: str) -> bool:
        """Ask for the caller to be transferred when the stream closes (the ``transfer_call``
        tool will call this); ``False`` when the session is not a phone call."""
        return await self._store.calls.request_transfer(session_id, self._clock.now())

    async def session_for_call(self, call_sid: str) -> Session | None:
        """The session a CallSid runs, or ``None`` for an unknown call."""
        call = await self._store.calls.get_by_sid(call_sid)
        return await self._store.sessions.get(call.session_id) if call else None

    async def redeem_media_token(
        self, call_sid: str, session_id: str, token: str
    ) -> Session | None:
        """Check and use up a media stream's token (from its ``start`` parameters): the session
        if the token is the live one for this CallSid and session, else ``None``. The caller
        then claims the session with ``SessionService.claim``."""
        if not token.startswith(MEDIA_TOKEN_PREFIX) or len(token) > 128:
            return None
        return await self._store.calls.redeem_media_token(
            call_sid, session_id, hash_secret(token), self._clock.now()
        )
