"""scripts/simulate_call.py --outbound end to end: a spawned gateway places calls through the
fake Twilio REST API. Only the shape of the figures is checked here (timings are the script's
to report, not a test's to assert); it takes about 15 s, most of it the 10 s call limit."""

from __future__ import annotations

import pytest

from scripts import simulate_call
from scripts.twilio_sim.outbound_run import LIMIT_S, run_outbound


async def test_outbound_calls_are_placed_answered_and_hung_up_at_their_limit() -> None:
    result = await run_outbound(calls=3, rate=50.0)
    post = result["post_to_carrier"]
    assert post["calls"] == 3 and 0 < post["p50_ms"] <= post["p99_ms"] <= post["max_ms"]
    assert result["answer"]["answer_to_first_agent_audio_ms"] is not None
    limit = result["max_duration"]
    assert limit["limit_s"] == LIMIT_S
    # Both calls were hung up by the gateway (None would mean the carrier never heard).
    assert limit["overshoot_no_stream_ms"] is not None
    assert limit["overshoot_streaming_ms"] is not None


def test_outbound_arguments_are_checked() -> None:
    with pytest.raises(SystemExit):
        simulate_call.main(["--outbound", "--calls", "0"])
