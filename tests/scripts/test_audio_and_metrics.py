"""Caller audio conversion, the WAV writer, TwiML parsing, metrics arithmetic, loopback guard."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from gateway.telephony import twiml
from media.g711 import ulaw_to_pcm16
from scripts.twilio_sim import metrics
from scripts.twilio_sim.audio import (
    FRAME_BYTES,
    load_clip,
    speech_clip,
    wav_to_ulaw,
    write_ulaw_wav,
)
from scripts.twilio_sim.loopback import is_loopback_url, require_loopback
from scripts.twilio_sim.webhook import parse_twiml, rebase

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, samples: np.ndarray, rate_hz: int, width: int, channels: int) -> None:
    scaled = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if width == 2:
        raw = scaled.astype("<i2").tobytes()
    elif width == 3:
        as32 = scaled.astype("<i4") << 8
        raw = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in as32)
    else:
        raw = (scaled.astype("<i4") << 16).tobytes()
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate_hz)
        writer.writeframes(raw)


@pytest.mark.parametrize(
    ("rate_hz", "width", "channels"), [(16000, 2, 1), (44100, 3, 2), (48000, 4, 1)]
)
def test_any_wav_becomes_8khz_ulaw_of_the_same_length_and_tone(
    tmp_path: Path, rate_hz: int, width: int, channels: int
) -> None:
    t = np.arange(rate_hz) / rate_hz  # 1 s of a 1 kHz tone at about -9 dBFS
    tone = np.round(10000 * np.sin(2 * np.pi * 1000 * t))
    path = tmp_path / "in.wav"
    _write(path, tone, rate_hz, width, channels)
    pcm = np.frombuffer(ulaw_to_pcm16(wav_to_ulaw(path)), "<i2").astype(float)
    assert abs(len(pcm) - 8000) <= 2
    spectrum = np.abs(np.fft.rfft(pcm[1000:7000]))
    assert abs(np.argmax(spectrum) * 8000 / 6000 - 1000) < 5
    assert 0.6 < np.sqrt(np.mean(pcm[1000:7000] ** 2)) / (10000 / np.sqrt(2)) < 1.2


def test_speech_clips_are_frames_with_the_manifest_onset() -> None:
    clip = speech_clip("speech_a_8k.wav", phrases=1)
    assert clip.onset_ms == 600
    assert clip.duration_ms == 2613 + 600 + 7  # up to the next whole frame
    assert load_clip("speech_b_8k.wav").duration_ms > 6000
    with pytest.raises(ValueError, match="phrases"):
        speech_clip("speech_a_8k.wav", phrases=3)


def test_the_wav_writer_writes_8khz_pcm16(tmp_path: Path) -> None:
    ulaw = bytes(range(256)) * 10
    write_ulaw_wav(tmp_path / "agent.wav", ulaw)
    with wave.open(str(tmp_path / "agent.wav"), "rb") as reader:
        assert (reader.getframerate(), reader.getsampwidth(), reader.getnchannels()) == (8000, 2, 1)
        assert reader.readframes(reader.getnframes()) == ulaw_to_pcm16(ulaw)
    assert FRAME_BYTES == 160


def test_the_gateways_twiml_parses_into_stream_url_action_and_parameters() -> None:
    document = twiml.connect_stream(
        "wss://gw.example.com/telephony/twilio/media",
        "https://gw.example.com/telephony/twilio/action",
        {"session_id": "s1", "token": "t&<1>"},
    )
    stream = parse_twiml(document)
    assert stream is not None
    assert stream.stream_url == "wss://gw.example.com/telephony/twilio/media"
    assert stream.action_url == "https://gw.example.com/telephony/twilio/action"
    assert (stream.action_method, stream.parameters) == (
        "POST",
        {"session_id": "s1", "token": "t&<1>"},
    )
    assert parse_twiml(twiml.say_and_hang_up("Goodbye")) is None
    # A public URL that is not this machine is signed as given but sent to the loopback gateway.
    assert rebase(stream.stream_url, "http://127.0.0.1:8080") == (
        "ws://127.0.0.1:8080/telephony/twilio/media"
    )
    assert rebase("ws://127.0.0.1:9/x", "http://127.0.0.1:8080") == "ws://127.0.0.1:9/x"


METRICS = """# HELP kura_media_frame_delay_seconds delay
# TYPE kura_media_frame_delay_seconds histogram
kura_media_frame_delay_seconds_bucket{direction="inbound",le="0.001"} 50
kura_media_frame_delay_seconds_bucket{direction="inbound",le="0.005"} 90
kura_media_frame_delay_seconds_bucket{direction="inbound",le="0.02"} 100
kura_media_frame_delay_seconds_bucket{direction="inbound",le="+Inf"} 100
kura_media_frame_delay_seconds_sum{direction="inbound"} 0.15
kura_media_frame_delay_seconds_count{direction="inbound"} 100
kura_media_frames_total{direction="inbound"} 100
kura_media_frames_total{direction="outbound"} 7
kura_media_late_frames_total 2
"""


def test_histogram_quantiles_interpolate_like_promql() -> None:
    before = metrics.parse(METRICS.replace(" 100\n", " 0\n").replace(" 90\n", " 0\n"))
    before = {k: 0.0 for k in before}
    change = metrics.delta(metrics.parse(METRICS), before)
    hist = metrics.histogram(change, "kura_media_frame_delay_seconds", direction="inbound")
    assert hist is not None and hist.count == 100
    assert hist.mean == pytest.approx(0.0015)
    assert hist.quantile(0.5) == pytest.approx(0.001)
    assert hist.quantile(0.7) == pytest.approx(0.003)  # halfway through the 1-5 ms bucket
    assert hist.quantile(0.99) == pytest.approx(0.005 + 0.015 * 0.9)
    assert metrics.value(change, "kura_media_frames_total", direction="outbound") == 7
    assert metrics.value(change, "kura_media_frames_total") == 107
    assert metrics.value(change, "kura_bargeins_total") is None
    assert metrics.histogram(change, "kura_nothing") is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8080", True),
        ("ws://127.3.4.5/x", True),
        ("http://[::1]:8080", True),
        ("http://localhost:8080", True),
        ("http://10.0.0.1:8080", False),
        ("https://gw.example.com", False),
        ("http://127.0.0.1.example.com", False),
        ("ftp://127.0.0.1", False),
    ],
)
def test_the_loopback_guard(url: str, ok: bool) -> None:
    assert is_loopback_url(url) is ok
    if not ok:
        with pytest.raises(ValueError, match="loopback"):
            require_loopback(url)


@pytest.mark.parametrize("script", ["simulate_call.py", "loadtest.py"])
def test_the_scripts_refuse_a_gateway_that_is_not_loopback(script: str) -> None:
    arguments = ["--gateway", "http://10.0.0.1:8080", "--auth-token", "t", "--to", "+15550002222"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "loopback" in done.stderr
