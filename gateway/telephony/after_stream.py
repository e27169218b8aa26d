"""What follows a call's stream: goodbye, an apology, or a transfer, and the transfer's event.

Kept apart from answering calls: this is the end of a call's life (the action webhook after the
stream closes), decided from the session's outcome and its assistant's transfer number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from gateway.sessions.events import PostCallEvents
from gateway.store import Store
from gateway.store.models import Call, Session
from gateway.telephony.transfer_flow import apply_event, outcome_teller
from gateway.telephony.transfer_twiml import conference_name
from kinds.clock import Clock

log = logging.getLogger(__name__)

# Sessions cut off on our side: the node stopped at its drain deadline, a node was lost, a node
# restarted. Their callers get the apology (or the assistant's transfer), never "thank you".
CUT_OFF_REASONS = frozenset({"shutdown", "node_lost", "node_restarted"})


@dataclass(frozen=True, slots=True)
class AfterStream:
    """What the caller hears once the stream has closed."""

    kind: Literal["goodbye", "apology", "transfer", "conference", "dropped"]
    transfer_to: str | None = None
    conference: str | None = None
    """A warm transfer the human accepted: the conference where they wait for the caller."""


def cut_off(session: Session | None) -> bool:
    """The session was cut off on our side: still live here (so its node was lost), or ended
    by a drain or a lost node."""
    return session is not None and (
        session.status in ("pending", "active") or session.end_reason in CUT_OFF_REASONS
    )


async def transfer_number(
    store: Store, call: Call, session: Session | None, *, warn: bool
) -> str | None:
    """Where a cold transfer goes: the destination the assistant chose (its last cold
    transfer on this call), else its transfer number, if it has one."""
    chosen = await store.transfers.latest(call.call_sid)
    if chosen is not None and chosen.mode == "cold":
        return chosen.destination_number
    assistant = (
        await store.assistants.get(session.assistant_id, include_deleted=True) if session else None
    )
    if assistant is None or not assistant.transfer_number:
        if warn:
            log.warning(
                "transfer asked for, but no transfer number", extra={"call_sid": call.call_sid}
            )
        return None
    return assistant.transfer_number


async def warm_bridge(
    store: Store, clock: Clock, events: PostCallEvents | None, call: Call, session: Session | None
) -> AfterStream | None:
    """A warm transfer the human accepted, if it is the call's last: the conference where they
    wait for the caller, or (they hung up before the caller got there) an apology, never an
    empty and silent room. ``None``: no warm transfer to finish."""
    last = await store.transfers.latest(call.call_sid)
    if last is None or last.mode != "warm":
        return None
    if last.state == "bridging":
        told = outcome_teller(store, events)
        moved = await apply_event(store, None, clock, last.id, "caller_joined", told=told)
        last = moved or last
    if last.state == "accepted":
        return AfterStream("conference", conference=conference_name(last.id))
    handed_over = session is not None and (
        session.end_reason == "transferred" or session.status in ("pending", "active")
    )
    if last.state == "dropped" and handed_over:
        # Dropped before the caller's node let go of the caller, the caller was back with the
        # assistant and this is a later end; dropped after, the caller is here, alone.
        log.warning("transfer dropped while bridging; apologising", extra={"transfer_id": last.id})
        return AfterStream("dropped")
    return None


async def tell_transferred(
    store: Store, events: PostCallEvents | None, session: Session, destination: str
) -> None:
    """The post-call ``call.transferred`` event: the caller is being dialled through."""
    if events is None:
        return
    assistant = await store.assistants.get(session.assistant_id, include_deleted=True)
    if assistant is not None:
        await events.call_transferred(
            session.id, assistant, destination=destination, mode="cold", outcome="dialed"
        )
