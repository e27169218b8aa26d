"""Outbound calls: the assistant dials out through the carrier's REST API.

``place`` checks the request (the number it calls from, the assistant, its calling hours),
takes the call's concurrent-call slots, stores the session and the call in one transaction
(an ``Idempotency-Key`` is unique, so a retried POST finds the first call and never dials
twice), and only then asks the number's carrier to dial (its ``CarrierDialer``: the number's
``carrier`` decides). The callbacks carry the session id in their query string, inside what
the carrier signs, so each one is bound to its call. The call is a session like any other:
``channel="phone"``, the callee as its contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from gateway import metrics
from gateway.errors import (
    CarrierFailed,
    Conflict,
    NotFound,
    RateLimited,
    Unavailable,
    ValidationFailed,
)
from gateway.sessions.service import NewSession, SessionService
from gateway.store import Store
from gateway.store.models import Assistant, Call, PhoneNumber
from gateway.telephony.calls import TERMINAL_STATUSES, CallService, status_order
from gateway.telephony.dialing import CarrierDialer, MachineDetection
from gateway.telephony.outbound_rules import (
    check_calling_hours,
    idempotency_digest,
    request_fingerprint,
)
from kinds.clock import Clock

log = logging.getLogger(__name__)

PROVISIONAL_PREFIX = "kura:"


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """A checked ``POST /api/v1/calls``: ``to`` is already E.164 and allowed."""

    assistant_id: int
    to: str
    from_number: str
    metadata: dict[str, Any] = field(default_factory=dict)
    greeting: str | None = None
    instructions: str | None = None
    machine_detection: MachineDetection = "off"
    voicemail_message: str | None = None
    max_duration_s: int | None = None
    api_key_id: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class PlacedCall:
    call: Call
    replayed: bool
    """A retried request (same ``Idempotency-Key``): the first call, nothing dialled."""


def _fingerprint(request: OutboundRequest) -> str:
    fields = asdict(request)
    del fields["api_key_id"], fields["idempotency_key"]
    return request_fingerprint(fields)


def is_provisional(call: Call) -> bool:
    return call.call_sid.startswith(PROVISIONAL_PREFIX)


def _refuse(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field_name}: {message}", details=[{"field": field_name, "message": message}]
    )


class OutboundCalls:
    """Places, tracks and hangs up outbound calls, each on its ``from`` number's carrier."""

    def __init__(
        self,
        store: Store,
        sessions: SessionService,
        calls: CallService,
        clock: Clock,
        *,
        dialers: Mapping[str, CarrierDialer],
        dial_hints: Mapping[str, str],
        retry_after_s: int,
    ) -> None:
        """``dialers``: the configured carriers; ``dial_hints``: for each carrier that can
        place calls, the settings that configure it (named in the 503 while they are unset)."""
        self._store = store
        self._sessions = sessions
        self._calls = calls
        self._clock = clock
        self.dialers = dialers
        self._hints = dial_hints
        self._retry_after_s = retry_after_s
        if calls.deadlines is not None:
            calls.deadlines.on_deadline(self._deadline)

    async def place(self, request: OutboundRequest) -> PlacedCall:
        digest = None
        if request.idempotency_key is not None:
            digest = idempotency_digest(request.api_key_id, request.idempotency_key)
            if (first := await self._store.calls.get_by_idempotency_key(digest)) is not None:
                return self._replay(first, request)
        number, assistant = await self._route(request)
        dialer = self._dialer(number.carrier, request)
        check_calling_hours(assistant.calling_hours, self._clock.now())
        session_id = str(uuid.uuid4())
        max_s = self._max_duration(request, assistant)
        full = await self._calls.take_slots(session_id, number, assistant, max_s)
        if full is not None:
            metrics.CALLS_PLACED.labels("limited").inc()
            raise RateLimited(
                f"the {full.split(':')[0]} concurrent-call limit is reached; retry later",
                retry_after_s=self._retry_after_s,
            )
        try:
            call = await self._store_call(request, number, assistant, session_id, digest, max_s)
        except IntegrityError:
            await self._calls.release_slots(session_id)
            first = await self._store.calls.get_by_idempotency_key(digest) if digest else None
            if first is None:
                raise
            return self._replay(first, request)
        except BaseException:
            await self._calls.release_slots(session_id)
            raise
        await self._dial(dialer, call)
        metrics.CALLS_PLACED.labels("placed").inc()
        return PlacedCall(call, False)

    @staticmethod
    def _replay(first: Call, request: OutboundRequest) -> PlacedCall:
        """The first call made with this ``Idempotency-Key``, if this request is its retry."""
        if first.idempotency_fingerprint != _fingerprint(request):
            raise Conflict("this Idempotency-Key was used for another call request; use a new key")
        metrics.CALLS_PLACED.labels("replayed").inc()
        return PlacedCall(first, True)

    def _max_duration(self, request: OutboundRequest, assistant: Assistant) -> int:
        return (
            request.max_duration_s or assistant.max_duration_s or self._calls.limits.max_duration_s
        )

    def _dialer(self, carrier: str, request: OutboundRequest) -> CarrierDialer:
        """The carrier's dialer, once it is known to honour what the request asks."""
        if carrier not in self._hints:
            raise _refuse("from", f"outbound calls are not yet placed on {carrier}")
        dialer = self.dialers.get(carrier)
        if dialer is None:
            raise Unavailable(f"outbound calls on {carrier} need {self._hints[carrier]}")
        capabilities = dialer.capabilities
        if not capabilities.allows(request.machine_detection):
            raise _refuse(
                "machine_detection",
                f"{capabilities.title} calls cannot use {request.machine_detection!r}"
                f" (this number's carrier offers: off"
                + "".join(f", {mode}" for mode in sorted(capabilities.machine_detection))
                + ")",
            )
        return dialer

    async def _route(self, request: OutboundRequest) -> tuple[PhoneNumber, Assistant]:
        number = await self._store.numbers.get_by_number(request.from_number)
        if number is None:
            raise _refuse("from", "not a number routed to Kura (see /api/v1/admin/numbers)")
        if not number.enabled:
            raise _refuse("from", "this number is disabled")
        assistant = await self._store.assistants.get(request.assistant_id)
        if assistant is None:
            raise NotFound(f"no assistant with id {request.assistant_id}")
        return number, assistant

    async def _store_call(
        self,
        request: OutboundRequest,
        number: PhoneNumber,
        assistant: Assistant,
        session_id: str,
        digest: str | None,
        max_s: int,
    ) -> Call:
        now = self._clock.now()
        call = Call(
            call_sid=PROVISIONAL_PREFIX + session_id, carrier=number.carrier, session_id=session_id,
            to_number=request.to, from_number=number.number, status="queued",
            status_order=status_order("queued", 0), transfer_requested=False,
            direction="outbound", assistant_id=assistant.id, number_id=number.id,
            api_key_id=request.api_key_id, machine_detection=request.machine_detection,
            voicemail_message=request.voicemail_message, max_duration_s=max_s,
            greeting=request.greeting, instructions=request.instructions,
            idempotency_key=digest,
            idempotency_fingerprint=_fingerprint(request) if digest else None,
            created_at=now, updated_at=now,
        )  # fmt: skip
        metadata = {**request.metadata, "carrier": number.carrier, "direction": "outbound"}
        await self._sessions.create(
            NewSession(
                assistant_id=assistant.id, phone_number=request.to,
                language_code=assistant.language_code, metadata=metadata, channel="phone",
                api_key_id=request.api_key_id, session_id=session_id,
            ),
            assistant=assistant,
            companions=lambda _: [call],
        )  # fmt: skip
        return call

    async def _dial(self, dialer: CarrierDialer, call: Call) -> None:
        try:
            call_sid = await dialer.dial(call, ring_timeout_s=self._calls.limits.ring_timeout_s)
        except (CarrierFailed, asyncio.CancelledError):
            metrics.CALLS_PLACED.labels("carrier_error").inc()
            await self._failed(call)
            raise
        now = self._clock.now()
        # Callbacks may already have bound the SID (they carry it); only a provisional one is
        # replaced here.
        if await self._store.calls.bind_sid(call.id, call.call_sid, call_sid, now):
            call.call_sid = call_sid
        log.info(
            "outbound call placed",
            extra={"session_id": call.session_id, "call_sid": call_sid, "carrier": call.carrier},
        )

    async def _failed(self, call: Call) -> None:
        now = self._clock.now()
        await self._store.calls.set_once(call.id, "end_reason", "carrier_error", now)
        order = status_order("failed", 0) or 0
        await self._store.calls.record_status(call.call_sid, "failed", order, None, now)
        await self._calls.call_over(call)
        with contextlib.suppress(NotFound):
            await self._sessions.end(call.session_id, "carrier_error")

    async def hang_up(self, call: Call, reason: str) -> Call:
        """End a call through the carrier (``DELETE /api/v1/calls/{id}``, a deadline, a
        voicemail verdict): the first reason given is the one kept."""
        if call.status not in TERMINAL_STATUSES:
            await self._store.calls.set_once(call.id, "end_reason", reason, self._clock.now())
            await asyncio.gather(self._carrier_hang_up(call), self.end_session(call, reason))
        fresh = await self._store.calls.get(call.id)
        return fresh or call

    async def _carrier_hang_up(self, call: Call) -> None:
        dialer = self.dialers.get(call.carrier)
        if dialer is None or is_provisional(call):
            return
        ringing = (status_order(call.status, 0) or 0) < (status_order("in-progress", 0) or 0)
        await dialer.hang_up(call, ringing=ringing)

    async def end_session(self, call: Call, reason: str) -> None:
        with contextlib.suppress(NotFound):
            await self._sessions.end(call.session_id, reason)

    async def _deadline(self, session_id: str) -> None:
        call = await self._store.calls.get_by_session(session_id)
        if call is not None and call.status not in TERMINAL_STATUSES:
            metrics.CALL_DEADLINES.inc()
            await self.hang_up(call, "max_duration")
