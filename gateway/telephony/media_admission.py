"""Admitting a carrier's media stream: its single-use token redeemed and its session claimed,
waiting out a database stall within a bound.

A stream opens a second after its voice webhook, so a stall the webhook rode out (SQLite's write
lock held past ``busy_timeout``, a PostgreSQL table lock) meets the stream's first two writes.
Failing there lost the call with an unhandled "database is locked". Now the writes are retried
while their error is transient, for at most ``ADMIT_DEADLINE_S``: a shorter stall costs the
caller some silence, not the call; a longer one refuses the stream with 1013, and the carrier
then runs the ``<Connect action>`` URL, whose answer for a session never connected (still
``pending``) is the apology or the assistant's transfer.

    Refused                 the stream is closed before any provider is connected
    ├── 1008                wrong audio format, bad or used token, session already taken
    └── 1013                the database stalled past ADMIT_DEADLINE_S
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import WSCloseCode

from gateway.context import GatewayContext
from gateway.errors import Conflict
from gateway.store.db import is_transient
from gateway.store.models import Session
from gateway.telephony.carriers.events import StreamStarted
from gateway.telephony.carriers.registry import Carrier
from gateway.telephony.service import Telephony
from kinds.clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

# Long enough to ride out scripts/chaos.py's 8 s SQLite stall: at 8 s, a socket opened just
# after the stall began was still refused (2 calls of 5), because the writes queued on SQLite's
# one connection drain only once the lock is released. Short enough that a refused caller
# hears the apology within about 14 s: the action webhook answers within its own 4 s deadline.
ADMIT_DEADLINE_S = 10.0
# Between tries. SQLite's busy_timeout (5 s) already waits inside each try and PostgreSQL's
# lock waits never fail, so this pause only spaces out errors that come at once (a dropped
# connection).
RETRY_PAUSE_S = 0.2


@dataclass(frozen=True, slots=True)
class Refused:
    """The stream was not admitted; close it with ``close_code``."""

    close_code: WSCloseCode


NOT_ADMITTED = Refused(WSCloseCode.POLICY_VIOLATION)
STALLED = Refused(WSCloseCode.TRY_AGAIN_LATER)


async def admit(
    ctx: GatewayContext, telephony: Telephony, carrier: Carrier, started: StreamStarted
) -> Session | Refused:
    """Redeem the call's single-use token and claim its session (one stream per call)."""
    if not carrier.capabilities.accepts(started.audio):
        log.warning("media socket refused: audio format", extra={"call_id": started.call_id})
        return NOT_ADMITTED
    # A task rather than asyncio.timeout: the cancelled query's clean-up waits on the driver
    # (SQLite: up to busy_timeout), and the refusal must not wait with it.
    admission = asyncio.create_task(
        _redeem_and_claim(ctx, telephony, carrier, started), name="media-admission"
    )
    try:
        done, _ = await asyncio.wait({admission}, timeout=ADMIT_DEADLINE_S)
    except asyncio.CancelledError:
        telephony.late.abandon(admission)  # the carrier left while we waited
        raise
    if done:
        return admission.result()
    telephony.late.abandon(admission)
    log.warning(
        "media socket refused: the database stalled past the admission deadline",
        extra={"call_id": started.call_id, "deadline_s": ADMIT_DEADLINE_S},
    )
    return STALLED


async def _redeem_and_claim(
    ctx: GatewayContext, telephony: Telephony, carrier: Carrier, started: StreamStarted
) -> Session | Refused:
    session_id, token = carrier.start_parameters.read(started)

    def redeem() -> Awaitable[Session | None]:
        return telephony.calls.redeem_media_token(started.call_id, session_id, token)

    session = await retrying(redeem, ctx.clock)
    if session is None:
        log.warning("media socket refused: bad or used token", extra={"call_id": started.call_id})
        return NOT_ADMITTED
    try:
        # Claiming is conditional on the session being pending, so a try whose commit was
        # lost and is repeated meets Conflict rather than claiming twice.
        return await retrying(lambda: ctx.sessions.claim(session), ctx.clock)
    except Conflict:
        log.warning("media socket refused: session taken", extra={"session_id": session.id})
        return NOT_ADMITTED


async def retrying(attempt: Callable[[], Awaitable[T]], clock: Clock) -> T:
    """``attempt()``'s result, trying again after each transient database error (the caller
    bounds the whole); any other error is raised."""
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "media socket admission: database busy; trying again",
                extra={"error": type(exc).__name__},
            )
        await clock.sleep(RETRY_PAUSE_S)
