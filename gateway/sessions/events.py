"""Post-call events: what happened on a session, for the assistant's ``events_url``.

Each event is stored in the outbox (``gateway.store.outbox``) in the database, so it survives a
restart; ``EventDelivery`` sends it. The body is fixed when the event is made, and its ``id`` is
the ``X-Kura-Delivery`` header of every attempt::

    {"id": "<uuid>", "type": "session.ended", "created_at": "<ISO 8601>", "data": {...}}

Types: ``session.started``, ``session.ended`` (end reason, duration, turns, transcript, tools
called, transfer, recording URL, contact, call status, answered_by) and ``call.transferred``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from gateway.store import Store
from gateway.store.models import Assistant, Call, OutboxEvent, Session, Turn
from kinds.clock import Clock

log = logging.getLogger(__name__)

EventType = Literal["session.started", "session.ended", "call.transferred"]
EVENT_TYPES: tuple[EventType, ...] = ("session.started", "session.ended", "call.transferred")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class PostCallEvents:
    """Makes events and stores them in the outbox; ``on_stored`` wakes the local worker."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        public_url: str,
        enabled: bool,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._enabled = enabled
        self._on_stored = on_stored

    async def emit(self, assistant: Assistant, kind: EventType, data: dict[str, Any]) -> str | None:
        """Store one event for ``assistant``'s ``events_url``; its id, or None if it has none."""
        if not assistant.events_url:
            return None
        if not self._enabled:
            log.warning("post-call event not sent: KURA_WEBHOOK_SECRET is not set")
            return None
        now = self._clock.now()
        event_id = str(uuid.uuid4())
        body = {"id": event_id, "type": kind, "created_at": now.isoformat(), "data": data}
        await self._store.outbox.add(
            OutboxEvent(
                id=event_id,
                type=kind,
                url=assistant.events_url,
                body=body,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )
        self._on_stored()
        return event_id

    async def session_started(self, session: Session, assistant: Assistant) -> None:
        data = {
            **_session_ids(session),
            "started_at": _iso(session.connected_at or self._clock.now()),
            "contact": await self._contact(session),
        }
        await self.emit(assistant, "session.started", data)

    async def session_ended(
        self, session_id: str, assistant: Assistant, tools_called: Sequence[str]
    ) -> None:
        session = await self._store.sessions.get(session_id)
        if session is None:
            return
        turns = await self._store.sessions.turns(session_id)
        call = await self._store.calls.get_by_session(session_id)
        started = session.connected_at or session.created_at
        ended = session.ended_at or self._clock.now()
        recording = None
        if assistant.recording in ("mono", "dual"):
            recording = f"{self._public_url}/api/v1/sessions/{session_id}/recording"
        data = {
            **_session_ids(session),
            "end_reason": session.end_reason,
            "started_at": _iso(started),
            "ended_at": _iso(ended),
            "duration_s": round((ended - started).total_seconds(), 3),
            "turns": session.total_turns,
            "transcript": [_turn_view(turn) for turn in turns],
            "tools_called": list(tools_called),
            "transfer": await self._transfer(call),
            "recording_url": recording,
            "contact": await self._contact(session),
            "call": _call_view(call) if call is not None else None,
            "answered_by": None,  # set by outbound calls with machine detection (not yet built)
        }
        await self.emit(assistant, "session.ended", data)

    async def call_transferred(
        self,
        session_id: str,
        assistant: Assistant,
        *,
        destination: str,
        mode: str,
        outcome: str,
        destination_name: str | None = None,
        started_at: datetime | None = None,
        answered_at: datetime | None = None,
        ended_at: datetime | None = None,
    ) -> None:
        """A transfer's outcome: ``dialed`` (cold), or how a warm one ended (``accepted``,
        ``declined``, ``no_answer``, ``busy``, ``failed``, ``caller_gone``, ``dropped``: accepted,
        then hung up before the caller was put through)."""
        data = {
            "session_id": session_id,
            "assistant_id": assistant.id,
            "destination": destination,
            "destination_name": destination_name,
            "mode": mode,
            "outcome": outcome,
            "at": _iso(self._clock.now()),
            "started_at": _iso(started_at),
            "answered_at": _iso(answered_at),
            "ended_at": _iso(ended_at),
        }
        await self.emit(assistant, "call.transferred", data)

    async def _transfer(self, call: Call | None) -> dict[str, Any] | None:
        """The call's last transfer and its outcome; ``None`` if none was asked for."""
        row = await self._store.transfers.latest(call.call_sid) if call is not None else None
        if row is None:
            return {"requested": True} if call is not None and call.transfer_requested else None
        return {
            "requested": True,
            "mode": row.mode,
            "destination": row.destination_number,
            "destination_name": row.destination_name,
            # The session ends as the caller's stream closes to be bridged: the human has
            # accepted; whether the caller reached them is ``call.transferred``'s to say.
            "outcome": "accepted" if row.state == "bridging" else row.state,
            "started_at": _iso(row.started_at),
            "answered_at": _iso(row.answered_at),
            "ended_at": _iso(row.ended_at),
        }

    async def _contact(self, session: Session) -> dict[str, Any] | None:
        if session.contact_id is None:
            return None
        contact = await self._store.contacts.get(session.contact_id)
        if contact is None:
            return None
        return {"id": contact.id, "phone_number": contact.phone_number, "name": contact.name}


def _session_ids(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "assistant_id": session.assistant_id,
        "channel": session.channel,
        "mode": session.mode,
        "metadata": session.meta,
    }


def _turn_view(turn: Turn) -> dict[str, Any]:
    return {
        "role": turn.role,
        "text": turn.text,
        "started_at": _iso(turn.started_at),
        "ended_at": _iso(turn.ended_at),
        "interrupted": turn.interrupted,
    }


def _call_view(call: Call) -> dict[str, Any]:
    return {
        "call_sid": call.call_sid,
        "carrier": call.carrier,
        "status": call.status,
        "duration_s": call.duration_s,
    }
