"""scripts/loadtest.py: its bounds, the ramp, and a small load step against the fake gateway."""

from __future__ import annotations

import aiohttp
import pytest

from scripts import loadtest
from scripts.twilio_sim.audio import speech_clip
from scripts.twilio_sim.call import CallConfig
from scripts.twilio_sim.load import LoadTarget, StepReport, run_step
from scripts.twilio_sim.media_session import InboundPlan
from tests.scripts.fake_gateway import AUTH_TOKEN, FakeGateway, MediaPeer
from tests.scripts.test_audio_and_metrics import METRICS


@pytest.mark.parametrize(
    "argv",
    [
        ["--gateway", "http://192.168.1.5:8080", "--auth-token", "t", "--to", "+15550002222"],
        ["--gateway", "http://gw.example.com", "--auth-token", "t", "--to", "+15550002222"],
        ["--spawn", "--calls", "1001"],
        ["--spawn", "--duration-s", "301"],
        # 250 calls at 5/s take 50 s to dial: 30 s calls would never all be up together.
        ["--spawn", "--calls", "250", "--start-rate", "5", "--duration-s", "30"],
        ["--gateway", "http://127.0.0.1:8080"],  # no token or number
    ],
)
def test_out_of_bounds_or_off_machine_targets_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    p = loadtest.parser()
    with pytest.raises(SystemExit) as exited:
        loadtest.check(p, p.parse_args(argv))
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


def test_the_ramp_steps_by_fifty_up_to_the_limit() -> None:
    assert loadtest.ramp_steps(300) == [50, 100, 150, 200, 250, 300]
    assert loadtest.ramp_steps(120) == [50, 100, 120]
    assert loadtest.ramp_steps(20) == [20]


def test_a_step_misses_on_failures_lost_frames_or_slow_frames() -> None:
    good = StepReport(calls=10, duration_s=1, frames_sent=500, frames_counted=500)
    good.delay_ms = {"inbound": {"p99": 3.0}, "outbound": {"p99": 19.9}}
    assert good.misses() == []
    slow = StepReport(calls=10, duration_s=1, frames_sent=500, frames_counted=499)
    slow.delay_ms = {"inbound": {"p99": 25.0}}
    slow.failures = {"webhook HTTP 503": 2}
    assert slow.misses() == ["2 x webhook HTTP 503", "1 lost frames", "inbound p99 25.0 ms"]
    assert StepReport(calls=1, duration_s=1).misses() == ["no frame counts from /metrics"]


async def test_a_load_step_counts_held_calls_frames_and_failures() -> None:
    async def script(peer: MediaPeer) -> None:
        await peer.wait_for(lambda r: r.event == "start")
        await peer.send_media(b"\xff" * 800)
        await peer.send_mark("m")
        gateway.metrics_text = METRICS

    gateway = FakeGateway(script=script, metrics_text="")
    plan = InboundPlan(speech_clip("speech_c_8k.wav"), duration_s=1.0, loop_gap_s=0.5)
    async with gateway.running(), aiohttp.ClientSession() as http:
        config = CallConfig(gateway.url, AUTH_TOKEN, "+15553000000", "+15550002222", speed=20)
        report = await run_step(http, LoadTarget(config), plan, calls=2, start_rate_per_s=100)
    figures = report.as_dict()
    assert figures["held"] == 2 and figures["failures"] == {}
    assert figures["frames_sent"] == 100  # 2 calls x 50 frames
    assert figures["frames_counted"] == 100 and figures["lost_frames"] == 0
    assert figures["frame_delay_ms"]["inbound"]["p99"] == pytest.approx(18.5)
    assert figures["gateway_cpu_pct_per_call"] is None  # no pid given: no CPU figure
    assert figures["generator_cpu_pct"] is not None
    assert "meets targets" in loadtest.format_step(report)


def test_each_onset_is_matched_to_the_first_clear_after_it() -> None:
    from scripts.twilio_sim.media_session import onset_to_clear_ms

    onsets = [10.0, 20.0, 30.0, 40.0]
    clears = [5.0, 10.05, 10.5, 21.5, 30.02]  # one before any onset, one too late to count
    assert [round(ms) for ms in onset_to_clear_ms(onsets, clears)] == [50, 20]
    assert onset_to_clear_ms([], clears) == [] and onset_to_clear_ms(onsets, []) == []


def test_slow_barge_ins_are_a_miss() -> None:
    fast = StepReport(calls=1, duration_s=1, frames_sent=50, frames_counted=50)
    fast.onset_to_clear_ms = [40.0, 60.0, 90.0]
    assert fast.misses() == []
    assert fast.as_dict()["speech_onset_to_clear_ms"] == {
        "count": 3,
        "p50": 60.0,
        "p99": 90.0,
        "max": 90.0,
    }
    slow = StepReport(calls=1, duration_s=1, frames_sent=50, frames_counted=50)
    slow.onset_to_clear_ms = [40.0, 60.0, 180.0]
    assert slow.misses() == ["speech onset → clear max 180.0 ms"]
