"""Phone calls as sessions: answer, track the carrier's status, decide what follows the stream.

An incoming call makes its session through ``SessionService.create`` like ``POST /sessions``
(``channel="phone"``, the caller as ``phone_number``), so contacts, listings and ``DELETE`` work
the same. Every method is idempotent: carriers retry webhooks and send callbacks twice or out of
order. Nothing here talks to an AI provider, so answering never waits on one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError

from gateway.errors import Forbidden, NotFound
from gateway.sessions.events import PostCallEvents
from gateway.sessions.service import NewSession, SessionService
from gateway.store import Store
from gateway.store.calls import CallLookup
from gateway.store.keys import hash_secret
from gateway.store.models import Call, Session
from gateway.telephony.caller_id import caller_number, dialled_number
from kinds.clock import Clock

log = logging.getLogger(__name__)

MEDIA_TOKEN_PREFIX = "kura_mt_"  # noqa: S105 - a prefix, not a secret
_RANK = {"queued": 1, "initiated": 1, "ringing": 2, "in-progress": 3, "answered": 3}
TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
_RANK.update(dict.fromkeys(TERMINAL_STATUSES, 4))
_SEQUENCE_SPAN = 1_000_000  # status_order = rank * span + SequenceNumber; ranks dominate


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

    kind: Literal["stream", "not_in_service", "over"]
    session_id: str | None = None
    media_token: str | None = None


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


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]


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
        events: PostCallEvents | None = None,
    ) -> None:
        self._events = events
        self._store = store
        self._sessions = sessions
        self._clock = clock
        self._token_key = token_key
        self._token_ttl = timedelta(seconds=media_token_ttl_s)
        self._locks = _KeyedLocks()  # a retry racing the first request on this node waits

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
        if to_number is None or number is None or not number.enabled:
            log.info("call to an unassigned or disabled number", extra={"to_number": to_number})
            return CallAnswer("not_in_service")
        if assistant is None:
            log.warning("number routes to a deleted assistant", extra={"number_id": number.id})
            return CallAnswer("not_in_service")
        _same_carrier(number.carrier, call.carrier)
        caller = caller_number(call.from_raw)
        metadata = {"carrier": call.carrier, "call_sid": call.call_sid, "to": to_number,
                    "direction": call.direction, "caller_withheld": caller is None}  # fmt: skip
        try:
            created = await self._sessions.create(
                NewSession(
                    assistant_id=number.assistant_id,
                    phone_number=caller,
                    language_code=assistant.language_code,
                    metadata=metadata,
                    channel="phone",
                ),
                assistant=assistant,
                companions=lambda session_id: [self._call_row(call, session_id, to_number)],
            )
        except IntegrityError:
            # Another node stored this CallSid first (its unique key rolled our session back
            # with the call row): answer with its session.
            winner = await self._store.calls.get_by_sid(call.call_sid)
            if winner is None:
                raise
            return await self._answer_again(winner)
        session_id = created.session.id
        log.info(
            "call answered",
            extra={"session_id": session_id, "call_sid": call.call_sid,
                   "to_number": to_number, "from_number": caller},
        )  # fmt: skip
        return CallAnswer("stream", session_id, self.media_token(call.call_sid, session_id))

    def _call_row(self, call: InboundCall, session_id: str, to_number: str) -> Call:
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
        return CallAnswer("stream", session.id, self.media_token(call.call_sid, session.id))

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
            await self._end_session(call.session_id, "call_" + call.status.replace("-", "_"))

    async def after_stream(self, call_sid: str) -> str | None:
        """The stream has closed: end its session, and return the number to transfer the
        caller to when the conversation asked for a transfer (``None``: say goodbye)."""
        call = await self._store.calls.get_by_sid(call_sid)
        if call is None:
            return None
        transfer_to = await self._transfer_number(call) if call.transfer_requested else None
        before = await self._store.sessions.get(call.session_id)
        await self._end_session(call.session_id, "transferred" if transfer_to else "stream_ended")
        # A retried action webhook transfers again, but the event is told once.
        if transfer_to is not None and before is not None and before.end_reason != "transferred":
            await self._transferred(before, transfer_to)
        return transfer_to

    async def _transferred(self, session: Session, destination: str) -> None:
        """The post-call ``call.transferred`` event: the caller is being dialled through."""
        if self._events is None:
            return
        assistant = await self._store.assistants.get(session.assistant_id, include_deleted=True)
        if assistant is not None:
            await self._events.call_transferred(
                session.id, assistant, destination=destination, mode="cold", outcome="dialed"
            )

    async def _transfer_number(self, call: Call) -> str | None:
        session = await self._store.sessions.get(call.session_id)
        assistant = (
            await self._store.assistants.get(session.assistant_id, include_deleted=True)
            if session
            else None
        )
        if assistant is None or not assistant.transfer_number:
            log.warning(
                "transfer asked for, but no transfer number", extra={"call_sid": call.call_sid}
            )
            return None
        return assistant.transfer_number

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
