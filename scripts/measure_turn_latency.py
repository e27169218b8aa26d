#!/usr/bin/env python3
"""Compare ``turnComplete.latencyMs`` with the reply latency an app measures itself.

    .venv/bin/python scripts/measure_turn_latency.py --spawn --turns 20
    .venv/bin/python scripts/measure_turn_latency.py --gateway http://127.0.0.1:8080 \\
        --api-key kura_live_... --assistant-id 1 --turns 20

Acts as an app: creates a chat session, and for each turn sends a ``textMessage`` and stamps
the moment it was written and the moment the first agent output (``transcriptionUpdate`` of
the output, or ``agentAudioChunk``) arrived. That span is this simulator's own measurement of
the reply latency; the gateway's is the ``latencyMs`` of the turn's ``turnComplete``. Prints
both per turn with ``--verbose``, and a summary line: their p50s and the largest difference
(target: within 20 ms). ``--spawn`` starts ``kura serve`` (temp SQLite, local provider).
"""

from __future__ import annotations

import argparse
import asyncio
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
TARGET_MS = 20.0
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


async def measure(url: str, api_key: str, assistant_id: int, turns: int) -> list[TurnSample]:
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"assistant_id": assistant_id, "mode": "chat"}
    samples: list[TurnSample] = []
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/v1/sessions", json=body, headers=headers) as response:
            response.raise_for_status()
            created = await response.json()
        async with http.ws_connect(created["websocket_url"]) as ws:
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


@contextlib.contextmanager
def spawned_gateway() -> Iterator[tuple[str, str]]:
    """``kura serve`` on a free loopback port with a bootstrap key; (url, key)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sys.path.insert(0, str(ROOT))
    from gateway.bootstrap import generate_api_key

    key = generate_api_key()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="kura-latency-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
        env.update(
            PYTHONPATH=str(ROOT),
            KURA_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/kura.db",
            KURA_BOOTSTRAP_API_KEY=key,
            KURA_PUBLIC_URL=url,
            KURA_TTS_COMMAND="off",
        )
        serve = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1"]
        with open(Path(tmp) / "serve.log", "w") as log:
            child = subprocess.Popen(
                [*serve, "--port", str(port)], env=env, cwd=tmp, stdout=log, stderr=log
            )
            try:
                _wait_healthy(url)
                yield url, key
            finally:
                child.terminate()
                child.wait(timeout=15)


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1):  # noqa: S310
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def report(samples: list[TurnSample], verbose: bool) -> str:
    if verbose:
        for n, sample in enumerate(samples, start=1):
            print(
                f"turn {n}: simulator {sample.client_ms:.1f} ms, latencyMs {sample.gateway_ms},"
                f" difference {sample.difference_ms:.1f} ms"
            )
    worst = max(s.difference_ms for s in samples)
    verdict = "PASS" if worst <= TARGET_MS else "FAIL"
    return (
        f"turns {len(samples)}: simulator reply latency p50"
        f" {statistics.median(s.client_ms for s in samples):.1f} ms, gateway latencyMs p50"
        f" {statistics.median(s.gateway_ms for s in samples):.1f} ms, difference mean"
        f" {statistics.mean(s.difference_ms for s in samples):.1f} ms max {worst:.1f} ms"
        f" (target <= {TARGET_MS:.0f} ms: {verdict})"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spawn", action="store_true", help="start kura serve (local provider)")
    p.add_argument("--gateway", default="http://127.0.0.1:8080")
    p.add_argument("--api-key", default=os.environ.get("KURA_API_KEY", ""))
    p.add_argument("--assistant-id", type=int, default=1)
    p.add_argument("--turns", type=int, default=20)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url, key = args.gateway, args.api_key
        if args.spawn:
            url, key = stack.enter_context(spawned_gateway())
        samples = asyncio.run(measure(url, key, args.assistant_id, args.turns))
    print(report(samples, args.verbose))
    return 0 if max(s.difference_ms for s in samples) <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
