#!/usr/bin/env python3
"""Measure resume after a network blip: from the resume request to the first replayed message.

Starts ``kura serve`` (the local provider, chat sessions), then N times: opens a session, waits
for the greeting, sends a message, reads the first message of the answer and cuts the socket
(shutdown, no close frame: a blip), resumes with ``lastSeq`` just before that message and times
from opening the resume connection to receiving the replayed message (the handshake, the
``sessionOpen`` and the replay; a 409 while the gateway has not yet seen the drop is retried,
and only the successful attempt is timed; retries are counted). Checks every replayed message
is the one missed, then stops the session.

With ``--two-nodes`` (needs a PostgreSQL database it may migrate and a Redis) it starts two
nodes that forward to each other, holds each session on node A and resumes through node B.

    python scripts/bench_resume.py --resumes 50
    python scripts/bench_resume.py --resumes 50 --two-nodes \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_resume \\
        --redis-url redis://127.0.0.1:6379/2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.bootstrap import generate_api_key  # noqa: E402
from scripts.twilio_sim.gateway_proc import free_port, wait_healthy  # noqa: E402

TARGET_MS = 50.0
RETRY_S = 0.005
NODE_SECRET = uuid.uuid4().hex + uuid.uuid4().hex


@contextlib.contextmanager
def _node(env: dict[str, str], workdir: str, name: str) -> Iterator[str]:
    """One ``kura serve`` on a free loopback port, advertising that port as its node URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    node_env = env | {"KURA_PUBLIC_URL": url, "KURA_NODE_URL": url}
    command = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1"]
    with open(Path(workdir) / f"{name}.log", "w") as log:
        child = subprocess.Popen(
            [*command, "--port", str(port)], env=node_env, cwd=workdir, stdout=log, stderr=log
        )
    try:
        wait_healthy(url)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=15)


@contextlib.contextmanager
def gateways(args: argparse.Namespace, key: str) -> Iterator[tuple[str, str]]:
    """(the node that holds sessions, the node resumes go to): the same node unless two."""
    with tempfile.TemporaryDirectory(prefix="kura-resume-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
        env |= {
            "PYTHONPATH": str(ROOT),
            "KURA_DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{tmp}/kura.db",
            "KURA_BOOTSTRAP_API_KEY": key,
            "KURA_TTS_COMMAND": "off",
            "KURA_NODE_SECRET": NODE_SECRET,
        }
        if not args.two_nodes:
            with _node(env, tmp, "node") as url:
                yield url, url
            return
        env |= {"KURA_REDIS_URL": args.redis_url, "KURA_REDIS_KEY_PREFIX": f"bench-{uuid.uuid4()}:"}
        with _node(env, tmp, "a") as a, _node(env, tmp, "b") as b:
            yield a, b


async def _message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.receive(), 10)
    if frame.type != aiohttp.WSMsgType.TEXT:
        raise RuntimeError(f"expected a text frame, got {frame.type!r}")
    message: dict[str, Any] = json.loads(frame.data)
    return message


async def _until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> None:
    while (await _message(ws))["type"] != kind:
        pass


def _blip(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Cut the connection under the client: no close frame, as a network drop."""
    sock = ws.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


async def one_resume(
    http: aiohttp.ClientSession, holder: str, resumer: str, key: str
) -> tuple[float, int]:
    """(milliseconds from the resume request to the first replayed message, 409 retries)."""
    headers = {"Authorization": f"Bearer {key}"}
    async with http.post(
        f"{holder}/api/v1/sessions", json={"assistant_id": 1, "mode": "chat"}, headers=headers
    ) as reply:
        created = await reply.json()
    ws = await http.ws_connect(created["websocket_url"])
    token = (await _message(ws))["resumeToken"]
    await _until(ws, "turnComplete")  # the greeting
    await ws.send_json({"type": "textMessage", "text": "tell me something"})
    missed = await _message(ws)
    _blip(ws)
    url = resumer.replace("http", "ws", 1) + f"/api/v1/sessions/{created['session_id']}/connect"
    query = f"?resume={token}&lastSeq={missed['seq'] - 1}"
    retries = 0
    while True:
        started = time.perf_counter()
        try:
            resumed = await http.ws_connect(url + query)
            break
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status != 409 or retries > 2000:
                raise
            retries += 1
            await asyncio.sleep(RETRY_S)
    opened = await _message(resumed)
    replayed = await _message(resumed)
    took_ms = (time.perf_counter() - started) * 1000
    if not opened.get("resumed") or replayed != missed:
        raise RuntimeError(f"resume replayed {replayed!r}, not the missed {missed!r}")
    await resumed.send_json({"type": "stopSession"})
    await resumed.close()
    with contextlib.suppress(Exception):
        await ws.close()
    return took_ms, retries


async def run(args: argparse.Namespace) -> int:
    key = generate_api_key()
    with gateways(args, key) as (holder, resumer):
        async with aiohttp.ClientSession() as http:
            samples, retries = [], 0
            for _ in range(args.resumes):
                took_ms, retried = await one_resume(http, holder, resumer, key)
                samples.append(took_ms)
                retries += retried
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
    median, worst = statistics.median(samples), samples[-1]
    verdict = "PASS" if p95 <= TARGET_MS else "FAIL"
    where = "across two nodes (held by A, resumed through B)" if args.two_nodes else "one node"
    print(f"{args.resumes} resumes, {where}; 409 retries while the drop was unseen: {retries}")
    print(
        f"resume -> first replayed message: median={median:.1f} p95={p95:.1f} max={worst:.1f} ms "
        f"(target <= {TARGET_MS:.0f} ms: {verdict})"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resumes", type=int, default=30)
    parser.add_argument("--two-nodes", action="store_true")
    parser.add_argument("--database-url", help="PostgreSQL for --two-nodes (it is migrated)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    args = parser.parse_args()
    if args.two_nodes and not (args.database_url or "").startswith("postgresql"):
        parser.error("--two-nodes needs --database-url postgresql+asyncpg://…")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
