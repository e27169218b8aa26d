"""Session lifecycle shared by every door: create, look up, connect, end and expire.

``POST /api/v1/sessions`` and an incoming phone call both create sessions here, so contact
tracking, expiry and ``DELETE`` behave the same for apps and calls.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.sessions.overrides import SessionOverrides, check_overrides
from gateway.sessions.phone import region_of, to_e164
from gateway.sessions.session_spec import assistant_spec
from gateway.state.control import ControlBus
from gateway.store import Store
from gateway.store.keys import hash_secret
from gateway.store.models import Assistant, Base, Session
from kinds.clock import Clock
from providers.registry import ProviderRegistry

log = logging.getLogger(__name__)

SESSION_TOKEN_PREFIX = "kura_st_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True, slots=True)
class NewSession:
    """What a client asks for; the same for ``POST /sessions`` and a phone call."""

    assistant_id: int
    mode: Literal["voice", "chat"] = "voice"
    phone_number: str | None = None
    language_code: str | None = None
    """BCP 47; None: the assistant's."""
    metadata: dict[str, Any] = field(default_factory=dict)
    channel: Literal["api", "phone"] = "api"
    api_key_id: int | None = None
    session_id: str | None = None
    """Chosen by the caller when rows made before the session must name it (a call's
    concurrent-call slots); a fresh UUID otherwise."""
    overrides: SessionOverrides = field(default_factory=SessionOverrides)


@dataclass(frozen=True, slots=True)
class CreatedSession:
    session: Session
    assistant: Assistant
    connect_token: str
    """Single-use credential for the session's WebSocket; shown once, only its hash is stored."""


class SessionService:
    """Creates and tracks sessions in the store; ends live ones through the control bus."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        bus: ControlBus,
        *,
        connect_timeout_s: float,
        token_ttl_s: float | None = None,
        providers: ProviderRegistry | None = None,
    ) -> None:
        self._providers = providers
        self._store = store
        self._clock = clock
        self._bus = bus
        self._connect_timeout = timedelta(seconds=connect_timeout_s)
        self._token_ttl = timedelta(seconds=token_ttl_s or connect_timeout_s)

    async def create(
        self,
        request: NewSession,
        *,
        assistant: Assistant | None = None,
        companions: Callable[[str], Sequence[Base]] | None = None,
    ) -> CreatedSession:
        """Store a new pending session. A caller that has just read the live assistant row
        (the voice webhook, with the number it called) passes it to save a query.

        ``companions`` makes rows (given the new session's id) stored in the same transaction:
        a call's row, whose unique CallSid then decides between racing webhooks and rolls the
        loser's session back with it (``IntegrityError``)."""
        if assistant is None or assistant.id != request.assistant_id:
            assistant = await self._store.assistants.get(request.assistant_id)
        if assistant is None:
            raise ValidationFailed(
                "assistant_id names no assistant",
                details=[{"field": "assistant_id", "message": "no assistant with this id"}],
            )
        self._check_overrides(request, assistant)
        now = self._clock.now()
        language_code = request.language_code or assistant.language_code
        phone_number = None
        if request.phone_number:
            phone_number = to_e164(request.phone_number, default_region=region_of(language_code))
        token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = Session(
            id=request.session_id or str(uuid.uuid4()),
            assistant_id=assistant.id,
            api_key_id=request.api_key_id,
            contact_id=None,  # set from the contact upserted with the session
            mode=request.mode,
            channel=request.channel,
            status="pending",
            phone_number=phone_number,
            language_code=language_code,
            meta=dict(request.metadata),
            overrides=request.overrides.to_json(),
            connect_token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + self._connect_timeout,
            total_turns=0,
        )
        await self._store.sessions.add(
            row, companions(row.id) if companions else (), contact_number=phone_number
        )
        log.info("session created", extra={"session_id": row.id, "channel": request.channel})
        return CreatedSession(row, assistant, token)

    def _check_overrides(self, request: NewSession, assistant: Assistant) -> None:
        """Refuse overrides the assistant's provider cannot honour (422, naming the field)."""
        if self._providers is None or request.overrides == SessionOverrides():
            return
        capabilities = self._providers.get(assistant.provider).capabilities(request.mode)
        check_overrides(request.overrides, assistant_spec(assistant), capabilities, request.mode)

    async def get(self, session_id: str) -> Session:
        """The session, unless it is unknown or expired (both are 404, as Kura documents)."""
        row = await self._store.sessions.get(session_id) if _is_uuid(session_id) else None
        if row is None:
            raise NotFound("no session with this id")
        if row.status == "pending" and row.expires_at <= self._clock.now():
            await self._store.sessions.expire_due(self._clock.now())
            row.status = "expired"
        if row.status == "expired":
            raise NotFound("session expired: create a new session")
        return row

    def token_matches(self, row: Session, token: str) -> bool:
        """The session's unspent token, within its lifetime (never past the session's expiry)."""
        if row.connect_token_hash is None or row.created_at + self._token_ttl <= self._clock.now():
            return False
        return hmac.compare_digest(row.connect_token_hash, hash_secret(token))

    async def claim(self, row: Session, overrides: SessionOverrides | None = None) -> Session:
        """Take the session's one connection; a second or late connect is refused.
        ``overrides``: the session's, with what this connect fixed (stored with the claim)."""
        if row.status != "pending":
            raise Conflict(f"session is {row.status}: it accepts one connection")
        stored = None if overrides is None else overrides.to_json()
        claimed = await self._store.sessions.claim(row.id, self._clock.now(), overrides=stored)
        if claimed is None:
            raise Conflict("session was connected or expired meanwhile")
        return claimed

    async def end(self, session_id: str, reason: str) -> Session:
        """End a session wherever it runs; idempotent for sessions already over."""
        row = await self.get(session_id)
        if row.status == "active":
            await self._bus.request_end(row.id, reason)
        await self._store.sessions.finish(row.id, reason, self._clock.now())
        return await self.get(session_id)

    async def end_for_assistant(self, assistant_id: int, reason: str) -> int:
        """End every live and pending session of an assistant (it was deleted)."""
        rows = await self._store.sessions.live_of_assistant(assistant_id)
        for row in rows:
            if row.status == "active":
                await self._bus.request_end(row.id, reason)
            await self._store.sessions.finish(row.id, reason, self._clock.now())
        return len(rows)

    async def finish(self, session_id: str, reason: str) -> None:
        await self._store.sessions.finish(session_id, reason, self._clock.now())

    async def expire_due(self) -> int:
        return await self._store.sessions.expire_due(self._clock.now())


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
