"""A fake carrier (codec and socket) and a fake conversation, to drive the CallBridge directly.

No aiohttp server, no database, no provider: the socket is a queue of frames, the codec a tiny
text protocol that records what it encodes, and the conversation records the port events it
receives. Tests await what they expect to happen instead of sleeping.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from aiohttp import WSMessage, WSMsgType

from gateway.sessions.port import ClientEvent
from gateway.telephony.carriers.codec import CarrierCapabilities, FrameKind
from gateway.telephony.carriers.events import (
    CarrierCommand,
    CarrierEvent,
    DtmfReceived,
    MarkEchoed,
    MediaReceived,
    StreamStopped,
)
from kinds.audio import PCM16_24K, PCMU_8K, AudioFormat
from media.formats import convert
from media.g711 import ulaw_to_pcm16

T = TypeVar("T")
WAIT_S = 2.0
SPEECH_24K = Path(__file__).parents[2] / "providers" / "data" / "speech_24k.wav"


def ulaw_match(part: bytes, audio: bytes) -> float:
    """Best normalised cross-correlation of µ-law ``part`` anywhere in µ-law ``audio``."""
    a = np.frombuffer(ulaw_to_pcm16(part), "<i2").astype(np.float64)
    b = np.frombuffer(ulaw_to_pcm16(audio), "<i2").astype(np.float64)
    cross = np.correlate(b, a, "valid")
    energy = np.convolve(b * b, np.ones(len(a)), "valid")
    return float(np.max(cross / np.sqrt(np.maximum(energy, 1.0) * float(a @ a))))


def speech_ulaw() -> bytes:
    """A spoken phrase as a carrier sends it: µ-law at 8 kHz."""
    return speech_in(PCMU_8K)


def speech_in(fmt: AudioFormat) -> bytes:
    """A spoken phrase as a carrier in ``fmt`` sends it (A-law, L16 at 8/16/24 kHz, µ-law)."""
    with wave.open(str(SPEECH_24K), "rb") as clip:
        pcm = clip.readframes(clip.getnframes())
    return convert(pcm, PCM16_24K, fmt)


def capabilities(frames: FrameKind = "text", **overrides: object) -> CarrierCapabilities:
    fields: dict[str, object] = {
        "name": "fake",
        "audio": PCMU_8K,
        "frame_ms": 20,
        "marks": True,
        "clear": True,
        "dtmf": True,
        "frames": frames,
        "max_frame_size": 1024,
    }
    return CarrierCapabilities(**{**fields, **overrides})  # type: ignore[arg-type]


class FakeCodec:
    """Text frames ``media:<hex>``, ``mark:<name>``, ``dtmf:<digit>``, ``stop``; binary frames
    are raw audio. Every command it encodes is kept in ``sent``."""

    stream_id = "stream-1"

    def __init__(self) -> None:
        self.sent: list[CarrierCommand] = []

    def decode(self, frame: str | bytes) -> CarrierEvent | None:
        if isinstance(frame, bytes):
            return MediaReceived(frame)
        verb, _, rest = frame.partition(":")
        match verb:
            case "media":
                return MediaReceived(bytes.fromhex(rest))
            case "mark":
                return MarkEchoed(rest)
            case "dtmf":
                return DtmfReceived(rest)
            case "stop":
                return StreamStopped()
        return None

    def encode(self, command: CarrierCommand) -> bytes:
        self.sent.append(command)
        return command.kind.encode()

    def of_kind(self, kind: type[T]) -> list[T]:
        return [c for c in self.sent if isinstance(c, kind)]


class FakeSocket:
    """The carrier's end of the media socket: frames to read, and the frames sent to it."""

    def __init__(self) -> None:
        self.closed = False
        self.frames: list[tuple[bytes, WSMsgType]] = []
        self._inbox: asyncio.Queue[WSMessage] = asyncio.Queue()
        self._sent = asyncio.Event()

    def feed(self, data: str | bytes) -> None:
        kind = WSMsgType.TEXT if isinstance(data, str) else WSMsgType.BINARY
        self._inbox.put_nowait(WSMessage(kind, data, None))

    def hang_up(self) -> None:
        self._inbox.put_nowait(WSMessage(WSMsgType.CLOSED, None, None))

    async def receive(self) -> WSMessage:
        return await self._inbox.get()

    async def send_frame(self, message: bytes, opcode: WSMsgType) -> None:
        self.frames.append((message, opcode))
        self._sent.set()

    async def wait_sent(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not predicate():
                self._sent.clear()
                await self._sent.wait()


class FakeConversation:
    """Records the client port events the bridge sends; tests await the ones they expect."""

    def __init__(self) -> None:
        self.events: list[ClientEvent] = []
        self._changed = asyncio.Event()

    async def receive(self, event: ClientEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of_kind(self, kind: type[T]) -> list[T]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type[T]) -> T:
        async with asyncio.timeout(WAIT_S):
            while not (found := self.of_kind(kind)):
                self._changed.clear()
                await self._changed.wait()
        return found[0]
