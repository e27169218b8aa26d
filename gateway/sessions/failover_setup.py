"""Builds a session's ``Failover``: how it reaches the assistant's fallback provider.

Kept apart from the runner because it is a policy of its own (which fallback, which formats,
what is recorded when it is used); the runner lends it only its way of connecting a provider.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from gateway.sessions.failover import Failover
from gateway.sessions.plan import AudioRoute, ClientTraits, SessionPlan, plan_session
from gateway.sessions.session_spec import session_spec
from gateway.sessions.transfer_spec import can_transfer, transfer_tool
from gateway.store import Store
from gateway.store.models import Assistant, Session
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.registry import ProviderRegistry
from providers.spec import HistoryItem

log = logging.getLogger(__name__)

Connector = Callable[[SessionPlan, str, tuple[HistoryItem, ...]], Awaitable[ProviderSession]]
"""Opens the session on a named provider with the given plan and history (the runner's own)."""


def as_connected(plan: SessionPlan, provider: ProviderSession) -> SessionPlan:
    """The plan with the formats the provider really opened in: should it not honour the
    plan's choice, the engine converts rather than feed it audio it cannot read."""
    caps = provider.capabilities
    if caps.input_audio != plan.inbound.provider:
        plan = replace(plan, inbound=AudioRoute(plan.inbound.port, caps.input_audio))
    if caps.output_audio != plan.outbound.provider:
        plan = replace(plan, outbound=AudioRoute(plan.outbound.port, caps.output_audio))
    return plan


def failover_for(
    session: Session,
    assistant: Assistant,
    traits: ClientTraits,
    plan: SessionPlan,
    *,
    providers: ProviderRegistry,
    store: Store,
    clock: Clock,
    connect: Connector,
) -> Failover | None:
    """How this session moves to the assistant's fallback provider, if it names one."""
    fallback = assistant.fallback_provider
    if not fallback or fallback == assistant.provider or fallback not in providers.names():
        return None

    async def switch(history: tuple[HistoryItem, ...]) -> tuple[ProviderSession, SessionPlan]:
        provider = providers.get(fallback)
        spec = replace(session_spec(assistant, session), provider=fallback, model=None, voice=None)
        own = plan_session(
            traits,
            provider.capabilities(plan.mode),
            spec,
            plan.mode,
            can_transfer=can_transfer(assistant),
            transfer_tool=transfer_tool(assistant),
        )
        # The client keeps the formats it was planned with; the engine converts.
        own = replace(
            own,
            inbound=AudioRoute(plan.inbound.port, own.inbound.provider),
            outbound=AudioRoute(plan.outbound.port, own.outbound.provider),
        )
        opened = await connect(own, fallback, history)
        return opened, as_connected(own, opened)

    async def record(primary: str, to: str, code: str) -> None:
        note = {"from": primary, "to": to, "reason": code, "at": clock.now().isoformat()}
        try:
            await store.sessions.note(session.id, "failover", note)
        except Exception:  # the call goes on; only the record is lost
            log.exception("failover not recorded", extra={"session_id": session.id})

    return Failover(assistant.provider, fallback, switch, record)
