#!/usr/bin/env python3
"""Compare ``turnComplete.latencyMs`` with the reply latency an app measures itself.

    .venv/bin/python scripts/measure_turn_latency.py --spawn --turns 20
    .venv/bin/python scripts/measure_turn_latency.py --spawn --provider openai-fake --turns 20
    .venv/bin/python scripts/measure_turn_latency.py --spawn --provider gemini-fake --voice
    .venv/bin/python scripts/measure_turn_latency.py --gateway http://127.0.0.1:8080 \\
        --api-key kura_live_... --assistant-id 1 --turns 20

Acts as an app: creates a chat session, and for each turn sends a ``textMessage`` and stamps
the moment it was written and the moment the first agent output (``transcriptionUpdate`` of
the output, or ``agentAudioChunk``) arrived. That span is this simulator's own measurement of
the reply latency; the gateway's is the ``latencyMs`` of the turn's ``turnComplete``. Prints
both per turn with ``--verbose``, and a summary line: their p50s and the largest difference
(target: within 20 ms). ``--spawn`` starts ``kura serve`` (temp SQLite) with the local provider,
or with ``--provider openai-fake`` / ``gemini-fake`` the OpenAI Realtime / Gemini Live protocol
fake in its own process and an assistant on it, so each reply crosses a real provider socket.

``--voice`` speaks instead: a voice session in PCM16
16 kHz, each turn a recorded utterance and silence streamed in real time. The gateway's
``latencyMs`` runs from the end of the caller's turn as its VAD found it; the simulator finds
that end with the same VAD on the same audio and stamps the moment it sent the chunk that ended
the turn. That is the gateway's own end of turn where the gateway's VAD decides (Gemini, whose
VAD never reports one; any assistant with server VAD off), not where the provider's VAD does.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.twilio_sim.gateway_proc import free_port, wait_healthy  # noqa: E402

# The Gemini fake's path (tests.fakes.gemini_live.PATH), which it serves in its own process.
GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
TARGET_MS = 20.0
SPEECH_CLIP = ROOT / "tests" / "providers" / "data" / "speech_24k.wav"
VOICE_SILENCE_MS = 500  # an assistant's default turn_detection.silence_ms
VOICE_TAIL_MS = 1_500  # silence after the utterance: the VAD's 500 ms, and the reply's time
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TurnSample:
    client_ms: float
    gateway_ms: int

    @property
    def difference_ms(self) -> float:
        return abs(self.client_ms - self.gateway_ms)


async def _until_turn_complete(ws: aiohttp.ClientWebSocketResponse) -> tuple[float | None, Any]:
    """(when the first agent output arrived, the turnComplete message)."""
    first_output: float | None = None
    while True:
        message = json.loads(await ws.receive_str())
        kind = message["type"]
        output = kind == "agentAudioChunk" or (
            kind == "transcriptionUpdate" and message["source"] == "output"
        )
        if output and first_output is None:
            first_output = time.perf_counter()
        if kind == "turnComplete":
            return first_output, message
        if kind == "sessionError":
            raise RuntimeError(f"session error: {message['error']}")


async def measure(
    url: str, api_key: str, assistant_id: int, turns: int, *, greets: bool = True
) -> list[TurnSample]:
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"assistant_id": assistant_id, "mode": "chat"}
    samples: list[TurnSample] = []
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/v1/sessions", json=body, headers=headers) as response:
            response.raise_for_status()
            created = await response.json()
        async with http.ws_connect(created["websocket_url"]) as ws:
            if greets:
                await _until_turn_complete(ws)  # the greeting answers nobody: no latency
            for n in range(turns):
                text = json.dumps({"type": "textMessage", "text": f"Turn number {n + 1}"})
                await ws.send_str(text)
                sent = time.perf_counter()
                first_output, done = await _until_turn_complete(ws)
                if first_output is None or done.get("latencyMs") is None:
                    raise RuntimeError(f"turn {n + 1} had no agent output or no latencyMs")
                samples.append(TurnSample((first_output - sent) * 1000, done["latencyMs"]))
            await ws.send_str(json.dumps({"type": "stopSession"}))
    return samples


async def measure_voice(
    url: str, api_key: str, assistant_id: int, turns: int, *, greets: bool = True
) -> list[TurnSample]:
    """Spoken turns in PCM16 16 kHz (Gemini's input: passed straight through)."""
    from gateway.sessions.turn_marks import TurnMarker
    from kinds.audio import PCM16_16K

    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"assistant_id": assistant_id, "mode": "voice"}
    marker = TurnMarker(PCM16_16K, VOICE_SILENCE_MS)  # the gateway's, on the same audio
    chunks = _voice_turn_chunks()
    samples: list[TurnSample] = []
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/v1/sessions", json=body, headers=headers) as response:
            response.raise_for_status()
            created = await response.json()
        connect_url = created["websocket_url"] + "&encoding=pcm16&sample_rate=16000"
        async with http.ws_connect(connect_url) as ws:
            if greets:
                await _until_turn_complete(ws)
            for n in range(turns):
                ended, first_output, done = await _spoken_turn(ws, chunks, marker)
                if ended is None or first_output is None or done.get("latencyMs") is None:
                    raise RuntimeError(f"turn {n + 1}: no end of turn, agent output or latencyMs")
                samples.append(TurnSample((first_output - ended) * 1000, done["latencyMs"]))
            await ws.send_str(json.dumps({"type": "stopSession"}))
    return samples


def _voice_turn_chunks() -> list[bytes]:
    """One turn: the recorded utterance at 16 kHz, then silence, in 20 ms chunks."""
    import wave

    from kinds.audio import PCM16_16K, PCM16_24K
    from media.formats import convert

    with wave.open(str(SPEECH_CLIP), "rb") as clip:
        speech = convert(clip.readframes(clip.getnframes()), PCM16_24K, PCM16_16K)
    audio = speech + bytes(VOICE_TAIL_MS * PCM16_16K.bytes_per_ms)
    size = 20 * PCM16_16K.bytes_per_ms
    return [audio[i : i + size] for i in range(0, len(audio) - size + 1, size)]


async def _spoken_turn(
    ws: aiohttp.ClientWebSocketResponse, chunks: list[bytes], marker: Any
) -> tuple[float | None, float | None, Any]:
    """Stream one turn in real time while reading the replies; (when the chunk that ended the
    turn was sent, when the first agent output came, the turnComplete)."""
    replies = asyncio.create_task(_until_turn_complete(ws))
    ended: float | None = None
    start = time.perf_counter()
    for n, chunk in enumerate(chunks):
        if replies.done():
            break
        await asyncio.sleep(max(0.0, start + n * 0.02 - time.perf_counter()))
        turn_ended = any(mark.edge == "ended" for mark in marker.feed(chunk))
        audio = base64.b64encode(chunk).decode("ascii")
        await ws.send_str(json.dumps({"type": "audioChunk", "audio": audio}))
        if turn_ended and ended is None:
            ended = time.perf_counter()
    first_output, done = await asyncio.wait_for(replies, START_TIMEOUT_S)
    return ended, first_output, done


@contextlib.contextmanager
def _child(command: list[str], env: dict[str, str], cwd: str, log_name: str) -> Iterator[None]:
    with open(Path(cwd) / log_name, "w") as log:
        child = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=log)
        try:
            yield
        finally:
            child.terminate()
            child.wait(timeout=15)


@contextlib.contextmanager
def spawned_gateway(provider: str) -> Iterator[tuple[str, str, int]]:
    """``kura serve`` on a free loopback port with a bootstrap key (and the OpenAI fake);
    (url, key, assistant id)."""
    from gateway.bootstrap import generate_api_key

    port, key = free_port(), generate_api_key()
    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryDirectory(prefix="kura-latency-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
        env.update(
            PYTHONPATH=str(ROOT),
            KURA_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/kura.db",
            KURA_BOOTSTRAP_API_KEY=key,
            KURA_PUBLIC_URL=url,
            KURA_TTS_COMMAND="off",
        )
        if provider == "gemini-fake":
            fake_port = free_port()
            fake = [sys.executable, "-m", "tests.fakes.gemini_live_default", "--port"]
            stack.enter_context(_child([*fake, str(fake_port)], env, tmp, "fake.log"))
            env["KURA_GEMINI_API_KEY"] = "test-gemini-key"
            env["KURA_GEMINI_LIVE_URL"] = f"ws://127.0.0.1:{fake_port}{GEMINI_PATH}"
        elif provider == "openai-fake":
            fake_port = free_port()
            fake = [sys.executable, "-m", "tests.fakes.openai_realtime", "--port", str(fake_port)]
            stack.enter_context(_child(fake, env, tmp, "fake.log"))
            env["KURA_OPENAI_API_KEY"] = "sk-test"
            env["KURA_OPENAI_REALTIME_URL"] = f"ws://127.0.0.1:{fake_port}/v1/realtime"
        serve = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1"]
        stack.enter_context(_child([*serve, "--port", str(port)], env, tmp, "serve.log"))
        wait_healthy(url)
        assistant_id = 1 if provider == "local" else _fake_assistant(url, key, provider)
        yield url, key, assistant_id


def _fake_assistant(url: str, key: str, provider: str) -> int:
    fields = {
        "name": "Fake provider",
        "provider": provider.removesuffix("-fake"),
        "greeting": "Hello, how can I help?",
    }
    body = json.dumps(fields).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{url}/api/v1/assistants",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(json.loads(response.read())["id"])


def report(samples: list[TurnSample], verbose: bool) -> str:
    if verbose:
        for n, sample in enumerate(samples, start=1):
            print(
                f"turn {n}: simulator {sample.client_ms:.1f} ms, latencyMs {sample.gateway_ms},"
                f" difference {sample.difference_ms:.1f} ms"
            )
    differences = sorted(s.difference_ms for s in samples)
    worst = differences[-1]
    p95 = differences[min(len(differences) - 1, round(0.95 * (len(differences) - 1)))]
    verdict = "PASS" if worst <= TARGET_MS else "FAIL"
    return (
        f"turns {len(samples)}: simulator reply latency p50"
        f" {statistics.median(s.client_ms for s in samples):.1f} ms, gateway latencyMs p50"
        f" {statistics.median(s.gateway_ms for s in samples):.1f} ms, difference mean"
        f" {statistics.mean(differences):.1f} ms p95 {p95:.1f} ms max {worst:.1f} ms"
        f" (target <= {TARGET_MS:.0f} ms: {verdict})"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spawn", action="store_true", help="start kura serve")
    p.add_argument("--provider", choices=("local", "openai-fake", "gemini-fake"), default="local")
    p.add_argument("--voice", action="store_true", help="spoken turns instead of typed ones")
    p.add_argument("--gateway", default="http://127.0.0.1:8080")
    p.add_argument("--api-key", default=os.environ.get("KURA_API_KEY", ""))
    p.add_argument("--assistant-id", type=int, default=1)
    p.add_argument("--turns", type=int, default=20)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--no-greeting", action="store_true", help="the assistant does not greet")
    args = p.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url, key, assistant_id = args.gateway, args.api_key, args.assistant_id
        if args.spawn:
            url, key, assistant_id = stack.enter_context(spawned_gateway(args.provider))
        greets = not args.no_greeting
        run = measure_voice if args.voice else measure
        samples = asyncio.run(run(url, key, assistant_id, args.turns, greets=greets))
    print(report(samples, args.verbose))
    return 0 if max(s.difference_ms for s in samples) <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
