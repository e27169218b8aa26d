"""A phone call through the real gateway, heard at the fake carrier, on a virtual clock.

The gateway is the real app (signed Twilio webhook, signed media socket, the bridge, the
runner, the Conversation) with its providers built by ``build_registry`` exactly as ``kura
serve`` builds them (DEFAULT settings: only the key and the URL of the fake are set), every
timer on one ``VirtualClock``. The carrier is ``FakeMediaStream``: each step it sends 20 ms of
caller audio, plays 20 ms of what it has queued (echoing marks as Twilio does) and moves the
clock 20 ms; between steps real loopback I/O runs, so the fake provider's answers arrive "at
once". Each frame the gateway sends is stamped with the virtual time it arrived and named by
the mark that follows it (``apology/…``, ``cue-holding-1/…``, or the provider's item id), so
the caller's silence is read off the carrier's own playout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from config import Settings
from gateway.provider_setup import build_registry
from providers.registry import ProviderRegistry
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.conftest import start_gateway
from tests.gateway.telephony.conftest import (
    AUTH_TOKEN,
    PUBLIC_URL,
    FakeTwilio,
    new_call_sid,
    stream_parameters,
    twiml_of,
)
from tests.reliability.heard import HeardSounds, Sound, SteppedLine
from tests.virtual_clock import VirtualClock

STEP_S = 0.02
FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law
SPEECH = b"\x10\x90" * (FRAME_BYTES // 2)  # a loud square wave: the fake's VAD hears speech
SILENCE = b"\xff" * FRAME_BYTES
NUMBERS = {"openai": "+15550004444", "gemini": "+15550004455"}
UNUSED_URL = "ws://127.0.0.1:9/unused"
SET_UP_S = 10.0  # real seconds: a loaded machine


def kind_of(mark: str) -> str:
    """What a mark's audio is: ``apology``, a cue's name, or ``agent`` (a provider item)."""
    item_id = mark.rsplit("/", 2)[0]
    if item_id == "apology":
        return "apology"
    if item_id.startswith("cue-"):
        return item_id.split("-")[1]
    return "agent"


@dataclass
class CarrierEar(HeardSounds):
    """What reached the caller's ear: each 20 ms frame, when it arrived, what it was."""

    clock: VirtualClock
    sounds: list[Sound] = field(default_factory=list)
    unmarked: list[float] = field(default_factory=list)
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)

    def frame(self) -> None:
        self.unmarked.append(self.clock.monotonic())
        self.first_frame.set()

    def mark(self, name: str) -> None:
        what = kind_of(name)
        self.sounds += [Sound(at_s, STEP_S, what) for at_s in self.unmarked]
        self.unmarked.clear()


class EarStream(FakeMediaStream):
    """Twilio's side of the stream, telling ``ear`` of every frame and mark it receives."""

    ear: CarrierEar | None = None

    async def _on_message(self, message: dict[str, Any]) -> None:
        assert self.ear is not None
        if message.get("event") == "media":
            self.ear.frame()
        elif message.get("event") == "mark":
            self.ear.mark(message["mark"]["name"])
        await super()._on_message(message)


class PhoneCall(SteppedLine):
    """One call to ``number``: ``await call.step()`` moves 20 ms of caller audio, playout and
    time."""

    def __init__(self, twilio: FakeTwilio, clock: VirtualClock, number: str) -> None:
        self.twilio = twilio
        self.clock = clock
        self.number = number
        self.ear = CarrierEar(clock)
        self.stream: EarStream | None = None
        self.started_s = clock.monotonic()
        self.ended_s: float | None = None
        self.call_sid = ""
        self._voiced = False

    @property
    def over(self) -> bool:
        return self.ended_s is not None

    def quiet(self) -> bool:
        """Nothing left to play at the carrier."""
        return self.stream is not None and self.stream.queued_ms == 0

    async def dial(self, ready: Callable[[], bool] | None = None) -> None:
        """The voice webhook, then the media socket, as Twilio does. Time starts once the
        call is set up: its session runs on the node and ``ready()`` holds (default: the
        greeting's first frame came). The set-up's database work runs in threads that a
        virtual clock cannot wait for, so it is waited for here, in real time."""
        call_sid = new_call_sid()
        fields = self.twilio.call_fields(call_sid, To=self.number)
        document = await twiml_of(await self.twilio.voice(fields))
        stream = document.find("./Connect/Stream")
        assert stream is not None
        gw = self.twilio.gateway
        opened = await EarStream.open(
            gw.http, gw.url, stream.attrib["url"], auth_token=AUTH_TOKEN,
            call_sid=call_sid, parameters=stream_parameters(document),
        )  # fmt: skip
        assert isinstance(opened, EarStream)
        opened.ear = self.ear  # before the reader's first turn: open() has not yielded since
        self.stream, self.call_sid = opened, call_sid
        greeted = self.ear.first_frame.is_set
        await _real_wait(lambda: len(gw.ctx.live) > 0 and (ready or greeted)())
        self.started_s = self.clock.monotonic()

    async def step(self, frames: int = 1) -> None:
        """``frames`` of 20 ms: caller audio sent, carrier playout, virtual time."""
        stream = self.stream
        assert stream is not None
        if not stream.closed.is_set():
            with contextlib.suppress(ConnectionError):
                await stream.send_audio((SPEECH if self._voiced else SILENCE) * frames)
            await stream.play(int(STEP_S * 1000) * frames)
        await _settle()
        await self.clock.advance(STEP_S * frames)
        if stream.closed.is_set() and self.ended_s is None:
            self.ended_s = self.clock.monotonic()

    async def run(self, seconds: float, frames_per_step: int = 1) -> None:
        """``seconds`` of call; more frames per step where the timing need not be fine."""
        until_s = self.clock.monotonic() + seconds
        while self.clock.monotonic() < until_s - 1e-9 and not self.over:
            await self.step(frames_per_step)

    async def say(self, seconds: float = 0.6) -> float:
        """The caller speaks for ``seconds``; returns when the last word was sent."""
        self._voiced = True
        await self.run(seconds)
        self._voiced = False
        return self.clock.monotonic()

    async def hear(
        self, what: str, after_s: float, limit_s: float, *, behind: str | None = None
    ) -> float:
        """Step until the caller starts hearing ``what`` (sent after ``after_s``, and behind a
        ``behind`` sound if given); when."""

        def heard() -> float | None:
            if behind is None:
                return self.ear.heard(what, after_s)
            return self.ear.heard_behind(what, behind, after_s)

        await self.run_until(lambda: heard() is not None, limit_s)
        heard_s = heard()
        assert heard_s is not None, f"no {what} by the end of the call: {self.ear.kinds()}"
        return heard_s

    async def hang_up(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()

    async def action(self) -> str:
        """The ``<Connect action>`` webhook Twilio calls once the stream is over: its TwiML."""
        params = self.twilio.call_fields(self.call_sid, CallStatus="in-progress")
        response = await self.twilio.action(params)
        return await response.text()


async def _real_wait(ready: Callable[[], bool]) -> None:
    deadline_s = time.monotonic() + SET_UP_S
    while not ready():
        assert time.monotonic() < deadline_s, "the call was not set up in time"
        await asyncio.sleep(0.005)


async def _settle() -> None:
    # Real loopback I/O (the carrier's frame to the gateway, the gateway to the fake provider
    # and back) before virtual time moves: each hop is a turn or two of the loop.
    for _ in range(10):
        await asyncio.sleep(0)


async def after_the_greeting(call: PhoneCall) -> float:
    """Hear the greeting out, then speak; returns when the caller's last word was sent."""
    await call.hear("agent", call.started_s, limit_s=1.0)
    await call.run_until(call.quiet, limit_s=3.0)
    return await call.say()


def _registry(clock: VirtualClock, openai_url: str, gemini_url: str) -> ProviderRegistry:
    """The providers as ``kura serve`` builds them: only the keys and URLs are set."""
    settings = Settings(
        _env_file=None,
        openai_api_key=SecretStr("sk-test"),
        openai_realtime_url=openai_url,
        gemini_api_key=SecretStr("gemini-test-key"),
        gemini_live_url=gemini_url,
    )
    return build_registry(settings, clock)


@contextlib.asynccontextmanager
async def fault_gateway(
    tmp_path: Path,
    clock: VirtualClock,
    *,
    openai_url: str = UNUSED_URL,
    gemini_url: str = UNUSED_URL,
    greeting: str = "Hello, Acme here.",
) -> AsyncIterator[FakeTwilio]:
    """A gateway on ``clock`` taking Twilio calls; NUMBERS route to an OpenAI and a Gemini
    assistant whose providers talk to the given fakes."""
    built = _registry(clock, openai_url, gemini_url)

    def register(registry: ProviderRegistry) -> None:
        for name in NUMBERS:
            registry.register(name, functools.partial(built.get, name))

    async for gw in start_gateway(
        tmp_path, clock, register=register,
        twilio_auth_token=SecretStr(AUTH_TOKEN), public_url=PUBLIC_URL,
    ):  # fmt: skip
        for provider, number in NUMBERS.items():
            row = await gw.ctx.store.assistants.create(
                {"name": "Acme", "provider": provider, "greeting": greeting}, clock.now()
            )
            await gw.ctx.store.numbers.create(
                {"number": number, "assistant_id": row.id, "carrier": "twilio"}, clock.now()
            )
        yield FakeTwilio(gw)


@contextlib.asynccontextmanager
async def phone_call(twilio: FakeTwilio, provider: str) -> AsyncIterator[PhoneCall]:
    clock = twilio.gateway.clock
    assert isinstance(clock, VirtualClock)
    call = PhoneCall(twilio, clock, NUMBERS[provider])
    try:
        yield call
    finally:
        await call.hang_up()
