"""The documentation's Python examples (requests + websocket-client), run as published against
``kura serve``, each as its own process."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

from tests.clients.conftest import ServedKura

EXAMPLES = Path(__file__).parent / "python"
SPEECH_CLIP = Path(__file__).parents[1] / "providers" / "data" / "speech_24k.wav"
RUN_TIMEOUT_S = 30


def run_example(kura: ServedKura, name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=kura.client_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_quick_start_voice_session_plays_the_speech_back(kura: ServedKura) -> None:
    lines = run_example(kura, "quickstart_voice.py", str(SPEECH_CLIP)).splitlines()
    messages: list[dict[str, Any]] = [json.loads(line) for line in lines]
    # Every message carries seq, one more each time (an additive field clients may ignore).
    assert [m.pop("seq") for m in messages] == list(range(1, len(messages) + 1))
    assert messages[0].pop("resumeToken").startswith("kura_rt_")  # for a resume
    assert messages[0] == {"type": "sessionOpen", "provider": "local", "mode": "voice"}
    greeting_end = next(i for i, m in enumerate(messages) if m["type"] == "turnComplete")
    assert "local demo" in messages[greeting_end]["fullOutput"]
    echo = messages[greeting_end + 1 :]
    assert echo[-1]["type"] == "turnComplete"
    played_bytes = sum(m["audio"] for m in echo if m["type"] == "agentAudioChunk")
    with wave.open(str(SPEECH_CLIP), "rb") as clip:
        clip_s = clip.getnframes() / clip.getframerate()
    assert 0.5 * clip_s < played_bytes / 48_000 < clip_s + 1.0  # the utterance, played back
    assert not [m for m in messages if m["type"] == "sessionError"]


def test_websocket_app_chat_session_round_trip(kura: ServedKura) -> None:
    out = run_example(kura, "run_forever_chat.py")
    # The example prints each message as a Python dict, as the documentation's lambda does.
    messages: list[dict[str, Any]] = [ast.literal_eval(line) for line in out.splitlines()]
    # Every message carries seq, one more each time (an additive field clients may ignore).
    assert [m.pop("seq") for m in messages] == list(range(1, len(messages) + 1))
    assert messages[0].pop("resumeToken").startswith("kura_rt_")  # for a resume
    assert messages[0] == {"type": "sessionOpen", "provider": "local", "mode": "chat"}
    turns = [m for m in messages if m["type"] == "turnComplete"]
    assert len(turns) == 2
    assert "local demo" in turns[0]["fullOutput"]
    assert turns[1]["fullInput"] == "Hello from run_forever"
    assert "Hello from run_forever" in turns[1]["fullOutput"]
    updates = [m for m in messages if m["type"] == "transcriptionUpdate"]
    assert updates and all(m["source"] == "output" for m in updates)
