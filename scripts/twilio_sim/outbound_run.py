"""``simulate_call.py --outbound``: outbound calls placed through a real gateway (``kura serve``
in a child process) against the fake carrier, timed the way a caller would notice.

1. ``POST /api/v1/calls`` → the carrier's create request arrives: ``--calls`` calls at
   ``--rate`` per second, each POST started on its own schedule (open loop); p50, p99, max.
2. Answer → first agent audio on the media socket, with the local provider speaking its
   greeting (``espeak-ng``), and AMD on (its verdict comes 0.5 s after the answer).
3. Hard ``max_duration_s`` (10 s): from the answer to the carrier's hang-up request, minus the
   limit, for a call whose stream never opens and for one streaming all along.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import replace
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from gateway.bootstrap import generate_api_key

from .audio import load_clip
from .call import CallConfig, CallResult, play_media
from .gateway_proc import NUMBER, Spawned, spawned_gateway
from .media_session import InboundPlan
from .outbound import ACCOUNT_SID, FakeCarrier, Placed, callback_fields
from .webhook import CallIdentity, parse_twiml, post_signed

LIMIT_S = 10


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


class Line:
    """The gateway, its key and the carrier, as one simulated deployment."""

    def __init__(self, gw: Spawned, key: str, carrier: FakeCarrier, http: aiohttp.ClientSession):
        self.gw, self.key, self.carrier, self.http = gw, key, carrier, http
        self.validator = RequestValidator(gw.auth_token)
        self.sequence = 0

    async def post(self, to: str, **body: Any) -> float:
        """Place a call to ``to``; the monotonic time the POST was started."""
        body = {"assistant_id": 1, "to": to, "from": NUMBER, **body}
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {self.key}"}
        async with self.http.post(self.gw.url + "/api/v1/calls", json=body, headers=headers) as r:
            if r.status != 201:
                raise RuntimeError(f"POST /api/v1/calls answered {r.status}: {await r.text()}")
        return started

    async def callback(self, url: str, fields: dict[str, str]) -> str:
        reply = await post_signed(self.http, self.validator, url, self.gw.url, fields)
        if reply.status != 200:
            raise RuntimeError(f"callback answered {reply.status}")
        return reply.text

    async def status(self, placed: Placed, status: str, **extra: str) -> None:
        self.sequence += 1
        await self.callback(placed.form["StatusCallback"],
                            callback_fields(placed, status, self.sequence, **extra))  # fmt: skip


async def post_to_carrier(line: Line, calls: int, rate: float) -> dict[str, Any]:
    """Open-loop POSTs at ``rate``/s; the delay until each create request reached the carrier.
    One warm-up call first (not counted): the first request of a fresh process pays one-time
    costs (connection pools, compiled queries, number metadata), reported as ``first_ms``."""
    first_started = await line.post("+14155558999")
    first = line.carrier.calls["+14155558999"]
    await line.status(first, "no-answer", CallDuration="0")
    t0 = time.monotonic() + 0.1
    numbers = [f"+1415555{i:04d}" for i in range(calls)]

    async def one(i: int) -> float:
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        return await line.post(numbers[i])

    started = await asyncio.gather(*(one(i) for i in range(calls)))
    delays = [line.carrier.calls[n].received_at - s for n, s in zip(numbers, started, strict=True)]
    for number in numbers:  # the callee never answered: their slots come back
        await line.status(line.carrier.calls[number], "no-answer", CallDuration="0")
    ordered = sorted(delays)
    return {"calls": calls, "rate_per_s": rate, "first_ms": _ms(first.received_at - first_started),
            "p50_ms": _ms(statistics.median(ordered)),
            "p99_ms": _ms(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]),
            "max_ms": _ms(ordered[-1])}  # fmt: skip


async def _answer_and_stream(line: Line, placed: Placed, seconds: float) -> tuple[float, Any]:
    """Answer ``placed``, stream ``seconds`` of caller audio; (answer time, media stats)."""
    answered = time.monotonic()
    twiml = await line.callback(placed.form["Url"], callback_fields(placed, "in-progress", 0))
    stream = parse_twiml(twiml)
    if stream is None:
        raise RuntimeError("the answer webhook gave no <Connect><Stream>")
    identity = replace(CallIdentity.new(placed.form["To"], placed.form["From"], ACCOUNT_SID),
                       call_sid=placed.sid)  # fmt: skip
    config = CallConfig(line.gw.url, line.gw.auth_token, placed.form["To"], placed.form["From"])
    plan = InboundPlan(clip=load_clip("speech_a_8k.wav:1"), duration_s=seconds)
    stats = await play_media(line.http, line.validator, config, plan, stream, CallResult(identity))
    return answered, stats


async def answer_to_audio(line: Line) -> dict[str, Any]:
    to = "+14155559000"
    await line.post(to, machine_detection="detect")
    placed = await line.carrier.wait_for(to)
    await line.status(placed, "ringing")

    async def verdict() -> None:
        await asyncio.sleep(0.5)
        human = callback_fields(placed, "in-progress", 0, AnsweredBy="human")
        await line.callback(placed.form["AsyncAmdStatusCallback"], human)

    answered, stats = (await asyncio.gather(_answer_and_stream(line, placed, 3.0), verdict()))[0]
    await line.status(placed, "completed", CallDuration="3")
    first = stats.first_agent_audio_at
    return {"answer_to_first_agent_audio_ms": None if first is None else _ms(first - answered),
            "amd": "AsyncAmd verdict (human) 500 ms after the answer"}  # fmt: skip


async def _hang_up_time(placed: Placed, timeout_s: float) -> float | None:
    try:
        await asyncio.wait_for(placed.updated.wait(), timeout_s)
    except TimeoutError:
        return None
    return placed.updates[0][0]


async def deadline_overshoot(line: Line) -> dict[str, Any]:
    """Each case: the carrier's hang-up request minus (answer + LIMIT_S)."""

    async def case(to: str, stream: bool) -> float | None:
        await line.post(to, max_duration_s=LIMIT_S)
        placed = await line.carrier.wait_for(to)
        if stream:
            answered, _ = await _answer_and_stream(line, placed, LIMIT_S + 3.0)
        else:
            answered = time.monotonic()
            await line.callback(placed.form["Url"], callback_fields(placed, "in-progress", 0))
        hung_up = await _hang_up_time(placed, LIMIT_S + 5.0)
        await line.status(placed, "completed", CallDuration=str(LIMIT_S))
        return None if hung_up is None else _ms(hung_up - answered - LIMIT_S)

    no_stream, streaming = await asyncio.gather(
        case("+14155559001", False), case("+14155559002", True)
    )
    return {"limit_s": LIMIT_S, "overshoot_no_stream_ms": no_stream,
            "overshoot_streaming_ms": streaming}  # fmt: skip


async def _calls_key(http: aiohttp.ClientSession, url: str, admin_key: str) -> str:
    """A key for the calls, limited above the rate this simulation places them at."""
    body = {"name": "outbound simulator", "permissions": ["calls:create", "calls:read"],
            "rate_limit_per_minute": 100_000}  # fmt: skip
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with http.post(url + "/api/v1/admin/keys", json=body, headers=headers) as reply:
        if reply.status != 201:
            raise RuntimeError(f"could not make a key: {reply.status} {await reply.text()}")
        return str((await reply.json())["secret"])


async def run_outbound(calls: int, rate: float) -> dict[str, Any]:
    carrier = FakeCarrier()
    await carrier.start()
    key = generate_api_key()
    settings = {"KURA_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "KURA_TWILIO_API_BASE_URL": carrier.url,
                "KURA_BOOTSTRAP_API_KEY": key, "KURA_TTS_COMMAND": ""}  # fmt: skip
    try:
        with spawned_gateway("local", core=None, extra_settings=settings) as gw:
            async with aiohttp.ClientSession() as http:
                line = Line(gw, await _calls_key(http, gw.url, key), carrier, http)
                result = {"post_to_carrier": await post_to_carrier(line, calls, rate)}
                result["answer"] = await answer_to_audio(line)
                result["max_duration"] = await deadline_overshoot(line)
                return result
    finally:
        await carrier.aclose()
