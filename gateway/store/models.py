"""Database tables (SQLAlchemy 2, typed). Times are stored as UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we store naive UTC)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    """An API key: only its SHA-256 is stored, found by a short prefix.

    ``kind`` is ``secret`` (``kura_live_…``, kept on servers) or ``publishable``
    (``kura_pk_…``, written into web pages): a publishable key may only create sessions of
    ``session_modes`` for ``assistant_ids``, from ``allowed_origins``.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(12), default="secret")
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    allowed_origins: Mapped[list[Any]] = mapped_column(default=list)
    assistant_ids: Mapped[list[Any]] = mapped_column(default=list)
    session_modes: Mapped[list[Any]] = mapped_column(default=list)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Assistant(Base):
    """An AI assistant: which provider, how it speaks, and the limits of its sessions."""

    __tablename__ = "assistants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(40), default="local")
    fallback_provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    voice: Mapped[str | None] = mapped_column(String(100))
    instructions: Mapped[str] = mapped_column(Text, default="")
    greeting: Mapped[str | None] = mapped_column(Text)
    language_code: Mapped[str] = mapped_column(String(35), default="en-US")
    tools: Mapped[list[Any]] = mapped_column(default=list)
    turn_detection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    interruption: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Barge-in policy on calls (``InterruptionFields``); empty: the defaults."""
    temperature: Mapped[float | None] = mapped_column(Float)
    idle_timeout_s: Mapped[int] = mapped_column(Integer, default=120)
    max_turns: Mapped[int | None] = mapped_column(Integer)
    max_duration_s: Mapped[int | None] = mapped_column(Integer)
    resume_grace_s: Mapped[float | None] = mapped_column(Float)
    """How long an app session waits for a resume after its socket drops; None:
    ``KURA_RESUME_GRACE_S`` (a session's own ``resume_grace_s`` overrides both)."""
    transfer_number: Mapped[str | None] = mapped_column(String(32))
    transfer_destinations: Mapped[list[Any]] = mapped_column(default=list)
    """Named places ``transfer_call`` may send a caller: ``[{name, number, description}]``."""
    transfer_ring_timeout_s: Mapped[int | None] = mapped_column(Integer)
    """How long a warm transfer rings the human; None: ``KURA_TRANSFER_RING_TIMEOUT_S``."""
    max_concurrent_calls: Mapped[int | None] = mapped_column(Integer)
    calling_hours: Mapped[dict[str, Any] | None] = mapped_column()
    """When outbound calls may be placed: ``{"start": "09:00", "end": "18:00", "time_zone":
    "Europe/Paris", "days": [0, 1, 2, 3, 4]}`` (Monday is 0); ``None``: any time."""
    recording: Mapped[str] = mapped_column(String(8), default="off")
    """``off``, ``mono`` (both sides mixed) or ``dual`` (caller left, assistant right)."""
    recording_retention_days: Mapped[int | None] = mapped_column(Integer)
    """Days a recording is kept; None: ``KURA_RECORDING_RETENTION_DAYS``."""
    events_url: Mapped[str | None] = mapped_column(String(2000))
    """Where post-call events (``session.started``, ``session.ended``, …) are POSTed."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class Contact(Base):
    """A caller known by E.164 number, upserted by every session that names one."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    session_count: Mapped[int] = mapped_column(Integer, default=0)


class Session(Base):
    """One conversation between one client (app or phone call) and one assistant."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assistant_id: Mapped[int] = mapped_column(ForeignKey("assistants.id"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    mode: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10), default="api")
    status: Mapped[str] = mapped_column(String(10), index=True)
    phone_number: Mapped[str | None] = mapped_column(String(32), index=True)
    language_code: Mapped[str] = mapped_column(String(35))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    connect_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    connected_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))
    total_turns: Mapped[int] = mapped_column(Integer, default=0)
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """This session's changes to its assistant (``gateway.sessions.overrides``)."""
    last_activity_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    """Its contact was erased: transcripts written later (a node still wrapping it up) are
    dropped."""


class Turn(Base):
    """One finished utterance of a session's transcript."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    turn_id: Mapped[int | None] = mapped_column(Integer)
    """The conversational turn (1, 2, ...) this utterance belongs to, as in ``turnComplete``."""
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    """Assistant utterances: the caller's end of turn → the first agent audio or text."""


class PhoneNumber(Base):
    """A carrier number the gateway answers, and the assistant that answers it."""

    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    carrier: Mapped[str] = mapped_column(String(20), default="twilio")
    assistant_id: Mapped[int] = mapped_column(ForeignKey("assistants.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    max_concurrent_calls: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Call(Base):
    """One carrier call and the session it runs: the carrier's latest status, the duration,
    the single-use media-socket token (hash only) and whether a transfer was asked for.

    Outbound calls (``direction="outbound"``) are stored before the carrier knows them, under
    a provisional ``call_sid`` (``kura:<uuid>``) replaced by the carrier's SID once placed."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    carrier: Mapped[str] = mapped_column(String(20))
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), unique=True)
    to_number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))
    status_order: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    transfer_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    media_token_hash: Mapped[str | None] = mapped_column(String(64))
    media_token_expires_at: Mapped[datetime | None]
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    from_number: Mapped[str | None] = mapped_column(String(32))
    assistant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    number_id: Mapped[int | None] = mapped_column(Integer)
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    answered_by: Mapped[str | None] = mapped_column(String(12))
    end_reason: Mapped[str | None] = mapped_column(String(40))
    max_duration_s: Mapped[int | None] = mapped_column(Integer)
    machine_detection: Mapped[str] = mapped_column(String(16), default="off")
    voicemail_message: Mapped[str | None] = mapped_column(Text)
    voicemail_played: Mapped[bool | None] = mapped_column(Boolean)
    greeting: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    """What the first request with this key asked for: a reuse for another call is refused."""
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class CallTransfer(Base):
    """One transfer the assistant asked for on a call: where to, how, and what came of it.

    ``id`` is a random token: it names the transfer in the carrier's callback URLs (which
    carry no phone number) and the conference a warm transfer bridges in."""

    __tablename__ = "call_transfers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    mode: Mapped[str] = mapped_column(String(8))
    """``cold`` (the caller is dialled through) or ``warm`` (the human is asked first)."""
    destination_name: Mapped[str | None] = mapped_column(String(100))
    destination_number: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(20))
    """A warm transfer's state (``transfer_machine``); ``dialed`` for a cold one."""
    leg_sid: Mapped[str | None] = mapped_column(String(64))
    """The carrier's id of the call to the human (warm)."""
    summary: Mapped[str | None] = mapped_column(Text)
    """What the human hears before accepting (warm): the assistant's own summary, if it gave
    one; stored so whichever node answers the leg's webhook can say it."""
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class OutboxEvent(Base):
    """A post-call event waiting for (or past) delivery to its assistant's ``events_url``.

    ``id`` is the event id and the ``X-Kura-Delivery`` header, the same on every attempt. A
    node delivering it holds a lease (``leased_until``) so no other node sends it meanwhile; a
    node that dies lets its leases lapse.
    """

    __tablename__ = "event_outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2000))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    leased_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(40))
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
