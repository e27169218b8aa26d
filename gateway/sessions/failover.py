"""Provider failover: a session whose provider fails goes on with the assistant's fallback.

The runner builds a ``Failover`` for an assistant that names a ``fallback_provider``; the
Conversation uses it once, when its provider fails (at connect the runner uses it itself). The
fallback is seeded with the transcript so far (``TranscriptSoFar``); if the caller was waiting
for an answer, their last words go to it as text, so it answers them rather than start over.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.sessions.plan import SessionPlan
from gateway.sessions.transcripts import TurnRecord
from gateway.sessions.turn_log import TurnStore
from providers.base import ProviderSession
from providers.spec import HistoryItem

log = logging.getLogger(__name__)

Connect = Callable[[tuple[HistoryItem, ...]], Awaitable[tuple[ProviderSession, SessionPlan]]]
"""Open the fallback seeded with this history; the session and its plan (the client's formats
kept, the provider's as it opened). Raises ``ProviderError``."""
Record = Callable[[str, str, str], Awaitable[None]]
"""Record a switch on the session: (from provider, to provider, the failure's code)."""


@dataclass(frozen=True, slots=True)
class Failover:
    """Where a session goes when its provider fails, and how the switch is recorded."""

    primary: str
    fallback: str
    connect: Connect
    record: Record


class TranscriptSoFar:
    """A ``TurnStore`` that passes everything on and keeps the text, for re-seeding."""

    def __init__(self, store: TurnStore) -> None:
        self._store = store
        self._records: list[TurnRecord] = []

    def add(self, first_seq: int, records: tuple[TurnRecord, ...], completed: bool) -> None:
        self._store.add(first_seq, records, completed)
        del self._records[first_seq:]
        self._records.extend(records)

    def amend(self, seq: int, text: str) -> None:
        self._store.amend(seq, text)
        if 0 <= seq < len(self._records):
            old = self._records[seq]
            self._records[seq] = TurnRecord(
                old.role, text, old.started_at, old.ended_at, interrupted=True
            )

    def history(self) -> tuple[HistoryItem, ...]:
        """What was said, in order (empty utterances left out)."""
        return tuple(
            HistoryItem("user" if record.role == "user" else "assistant", record.text)
            for record in self._records
            if record.text.strip()
        )


def split_unanswered(
    history: tuple[HistoryItem, ...], owed: bool
) -> tuple[tuple[HistoryItem, ...], str | None]:
    """The seed, and the caller's last words when they still wait for the answer to them."""
    if owed and history and history[-1].role == "user":
        return history[:-1], history[-1].text
    return history, None


@dataclass(frozen=True, slots=True)
class Switched:
    """The fallback's session and plan, and the caller's words it still has to answer."""

    provider: ProviderSession
    plan: SessionPlan
    unanswered: str | None


async def switch(
    failover: Failover, history: tuple[HistoryItem, ...], owed: bool
) -> Switched | None:
    """Open the fallback seeded with ``history``; None when it cannot be reached either."""
    seed, unanswered = split_unanswered(history, owed)
    try:
        provider, plan = await failover.connect(seed)
    except Exception:
        log.warning("failover failed", extra={"fallback": failover.fallback})
        return None
    return Switched(provider, plan, unanswered)


async def at_connect(
    failover: Failover | None, code: str
) -> tuple[ProviderSession, SessionPlan] | None:
    """The primary could not be reached: the fallback's session (recorded), or None."""
    if failover is None:
        return None
    try:
        switched = await failover.connect(())
    except Exception:
        log.warning("fallback connect failed", extra={"fallback": failover.fallback})
        return None
    await failover.record(failover.primary, failover.fallback, code)
    return switched
