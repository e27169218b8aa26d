"""scripts/measure_turn_latency.py against a real gateway on loopback: its own measurement and
the gateway's ``latencyMs`` for each turn, and the summary line."""

from __future__ import annotations

from pathlib import Path

from kinds.clock import SystemClock
from scripts.measure_turn_latency import TurnSample, measure, report
from tests.gateway.conftest import ADMIN_KEY, start_gateway


async def test_the_simulator_and_latency_ms_agree(tmp_path: Path) -> None:
    async for gateway in start_gateway(tmp_path, SystemClock()):
        samples = await measure(gateway.url.rstrip("/"), ADMIN_KEY, 1, 5)
        assert len(samples) == 5
        # Figures, not a timed test: the script's own output is what gets reported.
        assert all(isinstance(s.gateway_ms, int) and s.client_ms >= 0 for s in samples)
        assert "turns 5:" in report(samples, verbose=False)


def test_the_summary_line() -> None:
    line = report([TurnSample(310.0, 308), TurnSample(305.0, 300)], verbose=False)
    assert line == (
        "turns 2: simulator reply latency p50 307.5 ms, gateway latencyMs p50 304.0 ms,"
        " difference mean 3.5 ms p95 5.0 ms max 5.0 ms (target <= 20 ms: PASS)"
    )


async def test_spoken_turns_on_the_gemini_fake(tmp_path: Path) -> None:
    """``--voice`` against Gemini: the gateway's VAD ends each spoken turn (Gemini's reports no
    end), and the simulator finds the same end with the same VAD on the same audio."""
    from providers.gemini_live import GeminiLiveProvider
    from providers.registry import ProviderRegistry
    from scripts.measure_turn_latency import measure_voice
    from tests.fakes.gemini_live import PATH
    from tests.fakes.gemini_live_default import FakeGeminiServer

    fake = FakeGeminiServer(reply_delay_s=0.1)
    await fake.start()
    url = f"ws://127.0.0.1:{fake.port}{PATH}"

    def register(registry: ProviderRegistry) -> None:
        registry.register("gemini", lambda: GeminiLiveProvider("key", url, clock=SystemClock()))

    try:
        async for gateway in start_gateway(tmp_path, SystemClock(), register=register):
            fields = {"name": "Live", "provider": "gemini"}
            row = await gateway.ctx.store.assistants.create(fields, gateway.clock.now())
            base = gateway.url.rstrip("/")
            samples = await measure_voice(base, ADMIN_KEY, row.id, 1, greets=False)
            # Figures, not a timed test: both measurements exist for the spoken turn.
            assert len(samples) == 1 and samples[0].gateway_ms >= 0 and samples[0].client_ms >= 0
    finally:
        await fake.stop()
    assert fake.invalid == []
