"""scripts/simulate_call.py end to end against the fake gateway (at 20× speed)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from scripts import simulate_call
from scripts.twilio_sim.audio import SILENCE_BYTE
from tests.scripts.fake_gateway import AUTH_TOKEN, FakeGateway, MediaPeer
from tests.scripts.test_audio_and_metrics import METRICS


async def test_one_call_with_barge_in_dtmf_and_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def script(peer: MediaPeer) -> None:
        await peer.wait_for(lambda r: r.event == "start")
        await peer.send_media(SILENCE_BYTE * 8000 * 3)
        await peer.send_mark("item:3000")
        await peer.wait_for(lambda r: r.message.get("media", {}).get("chunk") == "81")
        await peer.send_clear()
        gateway.metrics_text = METRICS  # the call's frames, as the gateway would count them

    gateway = FakeGateway(script=script, metrics_text="# no frames yet\n")
    out = tmp_path / "agent.wav"
    argv = ["--auth-token", AUTH_TOKEN, "--to", "+15550002222", "--duration-s", "3"]
    argv += ["--barge-in-at", "1.0", "--dtmf", "1@0.5", "--speed", "20", "--out", str(out)]
    async with gateway.running():
        args = simulate_call.parser().parse_args(["--gateway", gateway.url, *argv])
        summary = await simulate_call.run(args)
    assert summary["failure"] is None
    assert summary["dtmf_sent"] == 1 and summary["clears"] == 1
    assert summary["marks_received"] == summary["marks_echoed"] == 1
    assert 0 <= summary["speech_onset_to_clear_ms"] < 100
    assert summary["webhook_to_twiml_ms"] > 0
    assert summary["frame_delay"]["inbound"]["frames"] == 100
    assert summary["frame_delay"]["inbound"]["p99_ms"] == pytest.approx(18.5)
    assert "Goodbye" in summary["action_twiml"]
    with wave.open(str(out), "rb") as reader:
        assert reader.getframerate() == 8000
        assert 1.4 <= reader.getnframes() / 8000 <= 1.8  # played until the clear at ~1.6 s
    json.dumps(summary)
    simulate_call.print_text(summary)
    printed = capsys.readouterr().out
    assert "gateway frame delay inbound" in printed and "Say: Thank you for calling" in printed
    assert gateway.peers[0].received[-1].event == "stop"
