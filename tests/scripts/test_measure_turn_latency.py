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
