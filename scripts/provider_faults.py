#!/usr/bin/env python3
"""Provider faults against a spawned gateway at its DEFAULT settings (reliability.md rows 7, 8,
9, 11; issue #12): the silence each fault costs the caller, measured at the simulated carrier.

    .venv/bin/python scripts/provider_faults.py                  # every fault once (~3 min)
    .venv/bin/python scripts/provider_faults.py --faults drop-1011,tcp-reset --json

``kura serve`` runs on a temporary SQLite file with only the OpenAI key and URL set; the fake
OpenAI Realtime runs in this process with its default behaviour (energy VAD, 300 ms think time)
and one fault injected per call (``tests/fakes/openai_faults.py``; the ``gemini-`` faults on the
fake Gemini Live, ``tests/fakes/gemini_faults.py``); each call is Twilio's
(``scripts/twilio_sim``): signed webhook, paced 20 ms frames, marks echoed as its player plays.
The caller hears the greeting, speaks at 2 s, and the fault strikes instead of the reply (call
start faults: before the greeting). Per fault it prints the longest silence the caller heard,
from the call's answer (start faults) or the caller's last word (mid-call) to the apology or the
recovered answer, and the time from the fault to it; every frame is timed as the carrier plays
it. Real time on a shared machine: figures move by tens of milliseconds between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.bootstrap import generate_api_key  # noqa: E402
from gateway.store.keys import SECRET_PREFIX  # noqa: E402
from scripts.twilio_sim.audio import Clip, frames_b64, silence_frame_b64  # noqa: E402
from scripts.twilio_sim.call import CallConfig, CallResult, play_media  # noqa: E402
from scripts.twilio_sim.gateway_proc import Spawned, free_port, spawned_gateway  # noqa: E402
from scripts.twilio_sim.media_session import InboundPlan, MediaSession  # noqa: E402
from scripts.twilio_sim.webhook import CallIdentity, parse_twiml, post_signed  # noqa: E402
from tests.fakes import gemini_faults, openai_faults  # noqa: E402
from tests.fakes.gemini_live import PATH as GEMINI_PATH  # noqa: E402
from tests.fakes.gemini_live_default import FakeGeminiServer, LiveBehaviour  # noqa: E402
from tests.fakes.openai_faults import Fault, faulty_script  # noqa: E402
from tests.fakes.openai_realtime import (  # noqa: E402
    FakeConnection,
    FakeRealtimeServer,
    Response,
    Script,
)
from tests.reliability.heard import HeardSounds, Sound  # noqa: E402

AT_START = ("refused", "blackhole", "accept-silence", "unauthorized")
GEMINI = {"gemini-drop-1011": gemini_faults.drop_1011, "gemini-1007": gemini_faults.close_1007,
          "gemini-goaway": gemini_faults.go_away}  # fmt: skip
FAULTS = ("healthy", *AT_START, *openai_faults.MID_CALL, *GEMINI)
GEMINI_NUMBER = "+15550003333"
CALLER = "+15553000001"
SPEAK_AT_S = 2.5  # after the greeting (300 ms think time + 1.2 s of audio) has played
SPEECH = frames_b64(b"\x10\x90" * 80 * 30)  # 600 ms of a loud square wave: the fake's VAD
CALL_S = 14.0  # long enough for any recovery and the apology (6.7 s) to play out
ISSUE_S = 3.0  # issue #12: the caller never hears more than 3 s of silence


@dataclass
class Ear(HeardSounds):
    """What the carrier received (monotonic seconds), each frame named by its next mark."""

    sounds: list[Sound] = field(default_factory=list)
    unmarked: list[tuple[float, float]] = field(default_factory=list)
    opened_at: float = 0.0
    closed_at: float | None = None


class EarSession(MediaSession):
    """Twilio's media socket that also tells ``ear`` what it received and when."""

    def __init__(self, *args: Any, ear: Ear, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ear = ear
        ear.opened_at = time.monotonic()

    async def _on_text(self, text: str) -> None:
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
            message = orjson.loads(text)
            if message["event"] == "media":
                seconds = len(message["media"]["payload"]) * 3 / 4 / 8000
                self.ear.unmarked.append((time.monotonic(), seconds))
            elif message["event"] == "mark":
                what = _kind(message["mark"]["name"])
                self.ear.sounds += [Sound(at, s, what) for at, s in self.ear.unmarked]
                self.ear.unmarked.clear()
        await super()._on_text(text)

    async def _receive(self) -> None:
        await super()._receive()
        if self.stats.closed_by == "gateway":
            self.ear.closed_at = time.monotonic()


def _kind(mark: str) -> str:
    item_id = mark.rsplit("/", 2)[0]
    if item_id == "apology":
        return "apology"
    return item_id.split("-")[1] if item_id.startswith("cue-") else "agent"


@dataclass
class FakePlan:
    """What the fake does with the connections of the current call."""

    scripts: list[Script]
    refusal: int | None = None
    fired: list[float] = field(default_factory=list)
    attempts: int = 0

    def script(self, conn: FakeConnection) -> Script:
        script = self.scripts[min(self.attempts, len(self.scripts) - 1)]
        self.attempts += 1
        return script


def plan_for(fault: str) -> FakePlan:
    healthy = faulty_script(None)
    plan = FakePlan([healthy])
    if fault == "blackhole":
        plan.scripts = [openai_faults.blackhole]
    elif fault == "accept-silence":
        plan.scripts = [openai_faults.accept_then_silence]
    elif fault == "unauthorized":
        plan.refusal = 401
    elif fault in openai_faults.MID_CALL:
        plan.scripts = [faulty_script(_stamped(openai_faults.MID_CALL[fault], plan)), healthy]
    return plan


def _stamped(fault: Fault, plan: FakePlan) -> Fault:
    async def strike(conn: FakeConnection, response: Response) -> None:
        plan.fired.append(time.monotonic())
        await fault(conn, response)

    return strike


class Rig:
    """The fake OpenAI (this process) and the spawned gateway pointed at it."""

    def __init__(self) -> None:
        self.plan = FakePlan([faulty_script(None)])
        self.port = free_port()
        self.server = self._server()
        self.gemini = FakeGeminiServer()

    def _server(self) -> FakeRealtimeServer:
        async def dispatch(conn: FakeConnection) -> None:
            await self.plan.script(conn)(conn)

        return FakeRealtimeServer(dispatch, refuse=self._refusal, light=True)

    def _refusal(self, attempt: int) -> int | None:
        if self.plan.refusal is not None:
            self.plan.attempts += 1
        return self.plan.refusal

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def gemini_fault(self, fault: str) -> None:
        """The next Gemini connection gets ``fault`` at the caller's first turn."""
        strike = GEMINI[fault]
        first = gemini_faults.faulty(strike, lambda: self.plan.fired.append(time.monotonic()))
        self.gemini.behaviours, self.gemini.connections = [first, LiveBehaviour], 0

    async def listen(self, on: bool) -> None:
        """The fake's listener up (a new server on the same port) or down (refused)."""
        await self.server.stop()
        if on:
            self.server = self._server()
            await self.server.start(port=self.port)


async def route(http: aiohttp.ClientSession, gateway: Spawned, key: str) -> None:
    """The gateway's number to a new OpenAI assistant, ``GEMINI_NUMBER`` to a Gemini one;
    both greet the caller."""
    auth = {"Authorization": f"Bearer {key}"}
    ids = {}
    for provider in ("openai", "gemini"):
        body = {"name": "Provider faults", "provider": provider, "greeting": "Hello, Acme here."}
        async with http.post(f"{gateway.url}/api/v1/assistants", json=body, headers=auth) as made:
            ids[provider] = (await made.json())["id"]
    numbers_url = f"{gateway.url}/api/v1/admin/numbers"
    async with http.get(numbers_url, headers=auth) as listed:
        numbers = (await listed.json())["data"]
    number_id = next(n["id"] for n in numbers if n["number"] == gateway.number)
    patch = {"assistant_id": ids["openai"]}
    async with http.patch(f"{numbers_url}/{number_id}", json=patch, headers=auth) as patched:
        patched.raise_for_status()
    gemini = {"number": GEMINI_NUMBER, "assistant_id": ids["gemini"], "carrier": "twilio"}
    async with http.post(numbers_url, json=gemini, headers=auth) as assigned:
        assigned.raise_for_status()


async def place_call(http: aiohttp.ClientSession, gateway: Spawned, number: str) -> Ear:
    """One Twilio call: webhook, media socket (speaking at ``SPEAK_AT_S``), action webhook."""
    ear = Ear()
    validator = RequestValidator(gateway.auth_token)
    config = CallConfig(gateway.url, gateway.auth_token, CALLER, number)
    identity = CallIdentity.new(CALLER, number)
    fields = identity.fields("ringing")
    reply = await post_signed(http, validator, config.voice_url, gateway.url, fields)
    stream = parse_twiml(reply.text)
    if stream is None:
        raise RuntimeError(f"the voice webhook answered {reply.status} without a stream")
    quiet = Clip("quiet", (silence_frame_b64(),), None)
    speech = Clip("speech", SPEECH, 0)
    plan = InboundPlan(quiet, CALL_S, barge_in_at_s=SPEAK_AT_S, barge_clip=speech)
    session = functools.partial(EarSession, ear=ear)
    await play_media(http, validator, config, plan, stream, CallResult(identity), session)
    if stream.action_url:
        status = identity.fields("in-progress" if ear.closed_at is not None else "completed")
        await post_signed(http, validator, stream.action_url, gateway.url, status)
    return ear


def measure(fault: str, ear: Ear, plan: FakePlan) -> dict[str, Any]:
    """The row's figures: the caller's longest silence and the time from the fault to the
    first apology or recovered answer."""
    word_s = ear.opened_at + SPEAK_AT_S + len(SPEECH) * 0.02  # the last word, as sent
    since_s = ear.opened_at if fault in AT_START else word_s
    fired_s = plan.fired[0] if plan.fired else since_s
    apology = ear.heard("apology", since_s)
    if fault in AT_START:  # the provider never came up: only the apology ends the wait
        recovered = None  # (a cached greeting may play before it; it fills the silence)
    elif "holding" in ear.kinds():
        recovered = ear.heard_behind("agent", "holding", since_s)
    else:
        recovered = ear.heard("agent", fired_s)
    first = min((t for t in (apology, recovered) if t is not None), default=None)
    outcome = "none" if first is None else ("apology" if first == apology else "recovered")
    figures: dict[str, Any] = {
        "fault": fault,
        "outcome": outcome,
        "since": "answer" if fault in AT_START else ("word" if fault == "healthy" else "fault"),
        "silence_s": round(_silence(ear, since_s, first, word_s), 2) if first else None,
        "to_outcome_s": round(first - fired_s, 2) if first else None,
        "heard": ",".join(ear.kinds()),
        "attempts": plan.attempts,
        "ended_s": round(ear.closed_at - ear.opened_at, 2) if ear.closed_at else None,
    }
    return figures


def _silence(ear: Ear, from_s: float, until_s: float, word_s: float) -> float:
    """The longest stretch from ``from_s`` to ``until_s`` with nothing playing and the caller
    not speaking either (the caller's own words are no silence they wait through)."""
    spoken = (word_s - len(SPEECH) * 0.02, word_s)
    busy = sorted([(start, end) for start, end, _ in ear.playout()] + [spoken])
    longest, cursor = 0.0, from_s
    for start_s, end_s in busy:
        if start_s >= until_s:
            break
        longest = max(longest, start_s - cursor)
        cursor = max(cursor, end_s)
    return max(longest, until_s - cursor)


def line(figures: dict[str, Any]) -> str:
    silence = figures["silence_s"]
    verdict = "ok" if silence is not None and silence <= ISSUE_S else "FAIL"
    ended = f"  call ended {figures['ended_s']} s" if figures["ended_s"] is not None else ""
    return (
        f"{figures['fault']:<18} {figures['outcome']:<9} silence {silence} s  "
        f"{figures['since']}->{figures['outcome']} {figures['to_outcome_s']} s  "
        f"attempts {figures['attempts']}"
        f"  heard {figures['heard']}{ended}  [{verdict}]"
    )


async def run(faults: list[str]) -> list[dict[str, Any]]:
    rig = Rig()
    await rig.server.start(port=rig.port)
    await rig.gemini.start()
    key = generate_api_key(SECRET_PREFIX)
    gemini_url = f"ws://127.0.0.1:{rig.gemini.port}{GEMINI_PATH}"
    settings = {"KURA_OPENAI_API_KEY": "sk-test", "KURA_OPENAI_REALTIME_URL": rig.url,
                "KURA_GEMINI_API_KEY": "gemini-test-key", "KURA_GEMINI_LIVE_URL": gemini_url,
                "KURA_BOOTSTRAP_API_KEY": key}  # fmt: skip
    results = []
    try:
        with spawned_gateway("local", core=None, extra_settings=settings) as gateway:
            async with aiohttp.ClientSession() as http:
                await route(http, gateway, key)
                for fault in faults:
                    rig.plan = plan_for(fault)
                    if fault in GEMINI:
                        rig.gemini_fault(fault)
                    if fault == "refused":
                        await rig.listen(False)
                    number = GEMINI_NUMBER if fault in GEMINI else gateway.number
                    ear = await place_call(http, gateway, number)
                    if fault == "refused":
                        await rig.listen(True)
                    if fault in GEMINI:
                        rig.plan.attempts = rig.gemini.connections
                    results.append(measure(fault, ear, rig.plan))
                    print(line(results[-1]), flush=True)
    finally:
        await rig.server.stop()
        await rig.gemini.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help="comma-separated: " + ", ".join(FAULTS)
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        parser.error(f"unknown faults: {', '.join(unknown)}")
    results = asyncio.run(run(faults))
    if args.json:
        print(json.dumps(results, indent=2))
    failed = [r["fault"] for r in results if r["silence_s"] is None or r["silence_s"] > ISSUE_S]
    print(f"{len(results) - len(failed)}/{len(results)} faults within {ISSUE_S:g} s of silence")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
