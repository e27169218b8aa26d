"""Connecting with bounded retries: how long a caller may hear silence while a provider is down
stays bounded (reliability.md row 7), and a refusal that no retry can fix is reported at once
(row 9).

The caller passes an ``attempt`` coroutine factory (one full connect, set-up included) and a
``RetryPolicy``. Each attempt runs under the per-attempt time-out, cut to what is left of the
total budget; failures that are ``retryable`` are retried after a doubling back-off, anything
else propagates at once. When attempts or budget run out, the last failure is raised.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from kinds.clock import Clock
from providers.errors import ProviderError, ProviderUnavailable
from providers.toolkit.deadline import within

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: attempts, time per attempt, time in all, and the pause between."""

    max_attempts: int
    attempt_timeout_s: float
    """Per attempt, from the first byte out to the connection being ready for use."""
    budget_s: float = math.inf
    """All attempts and pauses together; no pause is taken that would end beyond it."""
    first_backoff_s: float = 0.5
    """Pause before the second attempt; it doubles for each later one."""
    max_backoff_s: float = math.inf
    jitter: float = 0.0
    """Share (0..1) of each pause drawn at random, so that many calls that lost a provider at
    once do not reconnect in lock-step; 0.5 pauses between half and all of the nominal time."""

    def backoff_s(self, retry: int, rng: random.Random | None = None) -> float:
        """The pause before retry number ``retry`` (1-based: the second attempt is retry 1)."""
        nominal_s: float = min(self.max_backoff_s, self.first_backoff_s * 2.0 ** (retry - 1))
        if not self.jitter:
            return nominal_s
        draw: float = (rng or random).random()
        return nominal_s * (1 - self.jitter) + draw * nominal_s * self.jitter


async def connect_with_retry(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    clock: Clock,
    *,
    provider: str,
    pause_after: Callable[[ProviderError], bool] | None = None,
) -> T:
    """The first attempt that succeeds; else the first non-retryable ``ProviderError``, or the
    last failure once ``max_attempts`` or ``budget_s`` run out.

    ``pause_after(error)`` False retries at once: a failure that says nothing about the
    server's health (Gemini refusing a resumption handle) needs no back-off.
    """
    started_s = clock.monotonic()
    attempts = max(1, policy.max_attempts)
    for number in range(1, attempts + 1):
        remaining_s = policy.budget_s - (clock.monotonic() - started_s)
        try:
            return await within(clock, min(policy.attempt_timeout_s, remaining_s), attempt())
        except TimeoutError as exc:
            failure: ProviderError = ProviderUnavailable(
                "the provider did not answer in time", code="connect_timeout"
            )
            failure.__cause__ = exc
        except ProviderError as exc:
            if not exc.retryable:
                raise
            failure = exc
        log.warning(
            "provider connect attempt failed",
            extra={"provider": provider, "attempt": number, "error_code": failure.code},
        )
        if number == attempts:
            raise failure
        pause_s = policy.backoff_s(number) if pause_after is None or pause_after(failure) else 0
        if clock.monotonic() - started_s + pause_s >= policy.budget_s:
            raise failure
        await clock.sleep(pause_s)
    raise AssertionError("unreachable")  # pragma: no cover
