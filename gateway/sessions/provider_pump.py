"""Reading one provider session's events until it fails, closes or the session ends.

Kept apart from the Conversation so that how a provider's failure is recognised (a
``ProviderFailed`` event or an exception from its stream) is one small, separate rule; the
engine decides what follows (a failover or the end).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from providers.base import ProviderSession
from providers.events import ProviderEvent, ProviderFailed

log = logging.getLogger(__name__)


async def pump_once(
    provider: ProviderSession,
    on_event: Callable[[ProviderEvent], Awaitable[None]],
    ended: Callable[[], bool],
) -> ProviderFailed | None:
    """Act on the provider's events until it fails (returned) or closes, or ``ended()``."""
    try:
        async for event in provider:
            if isinstance(event, ProviderFailed):
                return ProviderFailed(event.code, f"AI provider error: {event.message}")
            await on_event(event)
            if ended():
                return None
    except Exception:
        log.exception("provider session failed")
        return ProviderFailed("internal_error", "the AI provider failed")
    return None
