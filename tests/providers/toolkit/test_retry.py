"""Connect with retry: bounded attempts, time per attempt and in all, back-off, fatal at once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from providers.errors import ProviderAuthError, ProviderError, ProviderUnavailable
from providers.toolkit.retry import RetryPolicy, connect_with_retry
from tests.providers.toolkit.conftest import SteppingClock

POLICY = RetryPolicy(max_attempts=3, attempt_timeout_s=5.0, budget_s=60.0, first_backoff_s=0.5)


class Attempts:
    """An attempt factory that records when each attempt starts and plays a script."""

    def __init__(self, clock: SteppingClock, *outcomes: object) -> None:
        self._clock = clock
        self._outcomes = list(outcomes)
        self.started_at: list[float] = []
        self.cancelled = 0

    def __call__(self) -> Awaitable[str]:
        return self._attempt()

    async def _attempt(self) -> str:
        self.started_at.append(self._clock.monotonic() - 1000.0)
        outcome = self._outcomes.pop(0) if self._outcomes else "hang"
        if isinstance(outcome, ProviderError):
            raise outcome
        if outcome == "hang":  # a server that never answers
            try:
                await asyncio.Event().wait()
            finally:
                self.cancelled += 1
        return str(outcome)


def unavailable(code: str = "http_503") -> ProviderUnavailable:
    return ProviderUnavailable("down", code=code)


async def run(
    clock: SteppingClock,
    attempts: Callable[[], Awaitable[str]],
    policy: RetryPolicy = POLICY,
    pause_after: Callable[[ProviderError], bool] | None = None,
) -> str:
    retrying = connect_with_retry(attempts, policy, clock, provider="test", pause_after=pause_after)
    return await clock.run(asyncio.create_task(retrying))


async def test_the_first_attempt_that_works_wins(clock: SteppingClock) -> None:
    attempts = Attempts(clock, unavailable(), "ws")
    assert await run(clock, attempts) == "ws"
    assert attempts.started_at == [0.0, 0.5]


async def test_retryable_failures_back_off_doubling_then_the_last_one_is_raised(
    clock: SteppingClock,
) -> None:
    attempts = Attempts(clock, unavailable("a"), unavailable("b"), unavailable("c"))
    with pytest.raises(ProviderUnavailable) as caught:
        await run(clock, attempts)
    assert caught.value.code == "c"
    assert attempts.started_at == [0.0, 0.5, 1.5]


async def test_a_fatal_error_stops_at_once(clock: SteppingClock) -> None:
    attempts = Attempts(clock, ProviderAuthError("no", code="invalid_api_key"), "ws")
    with pytest.raises(ProviderAuthError):
        await run(clock, attempts)
    assert attempts.started_at == [0.0]


async def test_an_attempt_that_hangs_times_out_on_the_clock_and_is_cancelled(
    clock: SteppingClock,
) -> None:
    attempts = Attempts(clock, "hang", "hang", "hang")
    with pytest.raises(ProviderUnavailable) as caught:
        await run(clock, attempts)
    assert caught.value.code == "connect_timeout"
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert attempts.started_at == [0.0, 5.5, 11.5]
    assert attempts.cancelled == 3
    assert clock.monotonic() - 1000.0 == pytest.approx(16.5)


async def test_the_budget_bounds_all_attempts_and_pauses_together(clock: SteppingClock) -> None:
    policy = RetryPolicy(max_attempts=10, attempt_timeout_s=2.0, budget_s=3.0, first_backoff_s=0.5)
    attempts = Attempts(clock)
    with pytest.raises(ProviderUnavailable):
        await run(clock, attempts, policy)
    # 0-2 s first attempt, 0.5 s pause, then only the 0.5 s left of the budget for the second;
    # a third would need a pause beyond the budget.
    assert attempts.started_at == [0.0, 2.5]
    assert clock.monotonic() - 1000.0 == pytest.approx(3.0)


async def test_failures_that_call_for_no_pause_are_retried_at_once(clock: SteppingClock) -> None:
    attempts = Attempts(clock, unavailable("resume_rejected"), "ws")
    result = await run(clock, attempts, pause_after=lambda error: error.code != "resume_rejected")
    assert result == "ws"
    assert attempts.started_at == [0.0, 0.0]


def test_backoff_doubles_up_to_its_cap_and_jitter_stays_in_its_share() -> None:
    policy = RetryPolicy(
        max_attempts=9, attempt_timeout_s=1, first_backoff_s=0.25, max_backoff_s=2.0
    )
    assert [policy.backoff_s(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    jittered = RetryPolicy(max_attempts=9, attempt_timeout_s=1, first_backoff_s=1.0, jitter=0.5)
    rng = random.Random(7)
    draws = [jittered.backoff_s(1, rng) for _ in range(200)]
    assert all(0.5 <= draw <= 1.0 for draw in draws)
    assert max(draws) - min(draws) > 0.4  # really drawn, not fixed
