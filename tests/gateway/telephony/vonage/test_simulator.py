"""``simulate_call.py --carrier vonage`` and a ``loadtest.py --carrier vonage`` step, against the
real gateway."""

from __future__ import annotations

import pytest

from scripts import bench_webhook, loadtest, simulate_call
from scripts.twilio_sim.audio import speech_clip
from scripts.twilio_sim.call import CallConfig
from scripts.twilio_sim.load import LoadTarget, run_step
from scripts.twilio_sim.media_session import InboundPlan
from tests.gateway.telephony.conftest import PUBLIC_URL
from tests.gateway.telephony.vonage.conftest import SIGNATURE_SECRET, VONAGE_NUMBER, FakeVonage


async def test_the_simulator_acting_as_vonage_completes_a_call(
    vonage: FakeVonage, capsys: pytest.CaptureFixture[str]
) -> None:
    gw = vonage.gateway
    argv = ["--gateway", gw.url.rstrip("/"), "--public-url", PUBLIC_URL, "--carrier", "vonage",
            "--vonage-signature-secret", SIGNATURE_SECRET, "--to", VONAGE_NUMBER,
            "--duration-s", "6", "--dtmf", "1@0.5", "--barge-in-at", "3.5"]  # fmt: skip
    args = simulate_call.parser().parse_args(argv)
    simulate_call._check_args(simulate_call.parser(), args)
    summary = await simulate_call.run(args)
    simulate_call.print_text(summary)
    print(capsys.readouterr().out)  # the simulator's own report, shown with -s
    assert summary["failure"] is None, summary
    assert summary["stream_url"] == "wss://gw.example.com/telephony/vonage/media"
    assert summary["frames_sent"] == 300 and summary["dtmf_sent"] == 1
    assert summary["agent_media_messages"] > 0  # the demo's greeting or the caller played back
    assert summary["marks_received"] >= summary["marks_echoed"] > 0
    assert summary["action_status"] == 204  # the call's end, reported to the event URL
    call = await gw.ctx.store.calls.get_by_sid(summary["call_sid"])
    assert call is not None and (call.carrier, call.status) == ("vonage", "completed")


async def test_a_vonage_load_step_against_the_real_gateway(vonage: FakeVonage) -> None:
    gw = vonage.gateway
    plan = InboundPlan(speech_clip("speech_c_8k.wav"), duration_s=2.0, loop_gap_s=0.5)
    config = CallConfig(gw.url.rstrip("/"), SIGNATURE_SECRET, "+15553000000", VONAGE_NUMBER,
                        public_url=PUBLIC_URL, carrier="vonage")  # fmt: skip
    report = await run_step(gw.http, LoadTarget(config), plan, calls=2, start_rate_per_s=50)
    figures = report.as_dict()
    assert figures["held"] == 2 and figures["failures"] == {}, figures
    assert figures["frames_sent"] == 200  # 2 calls x 100 binary frames
    assert figures["frames_counted"] == 200 and figures["lost_frames"] == 0
    assert "N=2: held 2/2" in loadtest.format_step(report)


async def test_the_webhook_bench_signs_vonage_answers_with_a_jwt(vonage: FakeVonage) -> None:
    gw = vonage.gateway
    config = CallConfig(gw.url.rstrip("/"), SIGNATURE_SECRET, "+15551000000", VONAGE_NUMBER,
                        public_url=PUBLIC_URL, carrier="vonage")  # fmt: skip
    figures = await bench_webhook.measure(bench_webhook.Door.of(config), 20.0, 0.5)
    assert figures["outcomes"] == {"200": 10}, figures  # each an NCCO connecting a websocket
    assert "vonage: sent 10" in bench_webhook.report(figures, config.voice_url)
