#!/usr/bin/env python3
"""Decision → apology on a phone call (issue #20: "the apology starts within 300 ms of the
decision"): the gateway in-process on loopback, an assistant on the fake OpenAI Realtime server,
the Twilio media fake as the carrier. After the greeting the fake sends a fatal error
(``insufficient_quota``: no retry, so the error is the decision); the figure is the time from
sending it to the first apology frame reaching the carrier.

    .venv/bin/python scripts/bench_apology.py [--calls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kinds.clock import SystemClock  # noqa: E402
from providers.openai_realtime import OpenAIRealtimeProvider  # noqa: E402
from providers.registry import ProviderRegistry  # noqa: E402
from tests.fakes.openai_realtime import FakeConnection, FakeRealtimeServer  # noqa: E402
from tests.gateway.conftest import start_gateway  # noqa: E402
from tests.gateway.telephony.conftest import AUTH_TOKEN, PUBLIC_URL, FakeTwilio  # noqa: E402
from tests.gateway.telephony.test_media_stream import dial  # noqa: E402

NUMBER = "+15550007777"


async def one_call(workdir: Path) -> float:
    """Milliseconds from the fatal error leaving the fake to the apology's first frame."""
    sent_at: list[float] = []
    fail_now = asyncio.Event()

    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("response.create")
        await conn.audio_response("Hello.", audio_ms=200)
        await fail_now.wait()
        sent_at.append(time.monotonic())
        await conn.error("insufficient_quota")
        await conn.close(1000)

    fake = FakeRealtimeServer(script)
    await fake.start()

    def register(registry: ProviderRegistry) -> None:
        clock = SystemClock()
        registry.register("openai", lambda: OpenAIRealtimeProvider("sk", fake.url, clock=clock))

    gateways = start_gateway(
        workdir,
        SystemClock(),
        register=register,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        public_url=PUBLIC_URL,
    )
    gw = await anext(gateways)
    try:
        now = gw.clock.now()
        row = await gw.ctx.store.assistants.create(
            {"name": "Bench", "provider": "openai", "greeting": "Hello."}, now
        )
        await gw.ctx.store.numbers.create(
            {"number": NUMBER, "assistant_id": row.id, "carrier": "twilio"}, now
        )
        stream = await dial(FakeTwilio(gw), NUMBER)
        await stream.wait_for_audio(200 * 8)  # the greeting
        await stream.play(200)
        heard = len(stream.received_audio)
        fail_now.set()
        await stream.wait_for_audio(heard + 160)  # the apology's first 20 ms frame
        arrived_at = time.monotonic()
        await stream.aclose()
    finally:
        await gateways.aclose()
        await fake.stop()
    return (arrived_at - sent_at[0]) * 1000


async def main(calls: int) -> None:
    figures = []
    for _ in range(calls):
        with tempfile.TemporaryDirectory(prefix="kura-apology-") as tmp:
            figures.append(await one_call(Path(tmp)))
    print(
        f"fatal error sent -> first apology frame at the carrier: calls={len(figures)} "
        f"median={statistics.median(figures):.1f}ms max={max(figures):.1f}ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    asyncio.run(main(parser.parse_args().calls))
