"""One Media Streams WebSocket, played from Twilio's side (protocols.md §1.5).

Sends ``connected`` and ``start``, then one ``media`` frame per 20 ms of call time (with
``sequenceNumber``, ``chunk`` and ``timestamp`` as strings), ``dtmf`` events when due, mark
echoes when the agent audio before them has played (or at once on ``clear``), and ``stop`` at
the end. Two tasks share the socket: the sender (paced frames, due mark echoes) and the
receiver (agent ``media``, ``mark``, ``clear``). aiohttp writes an uncompressed frame before
its first ``await``, so the shared sequence counter always matches the order on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import aiohttp
import orjson

from .audio import FRAME_MS, Clip, silence_frame_b64
from .pacing import CallClock
from .playback import Playback
from .ticker import FrameTicker
from .webhook import CallIdentity
from .wsframe import RawFrames

FRAME_S = FRAME_MS / 1000
MAX_CALL_S = 3600.0  # no simulated call lasts longer than an hour


@dataclass(frozen=True)
class InboundPlan:
    """What the caller sends: ``clip`` then silence (or ``clip`` + ``loop_gap_s`` of silence,
    looped), optionally a barge-in clip at ``barge_in_at_s`` and DTMF digits at given times."""

    clip: Clip
    duration_s: float
    loop_gap_s: float | None = None
    barge_in_at_s: float | None = None
    barge_clip: Clip | None = None
    dtmf: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.duration_s <= MAX_CALL_S:
            raise ValueError(f"duration must be in (0, {MAX_CALL_S:g}] s")
        if (self.barge_in_at_s is None) != (self.barge_clip is None):
            raise ValueError("a barge-in needs both a time and a clip")

    @cached_property
    def frame_count(self) -> int:
        return round(self.duration_s / FRAME_S)

    @cached_property
    def silence(self) -> str:
        return silence_frame_b64()

    @cached_property
    def loop(self) -> tuple[str, ...]:
        """The looped sequence, built once and shared by every call with this plan."""
        gap_frames = round((self.loop_gap_s or 0) / FRAME_S)
        return self.clip.frames_b64 + (self.silence,) * gap_frames

    @cached_property
    def barge_frame(self) -> int | None:
        return None if self.barge_in_at_s is None else round(self.barge_in_at_s / FRAME_S)

    @cached_property
    def loop_onsets(self) -> dict[int, int]:
        """Where in each loop the clip's phrases begin (looped plans of a built-in clip): the
        frame holding each onset → ms of that frame's audio from the onset to its end."""
        if self.loop_gap_s is None:
            return {}
        return {o // FRAME_MS: FRAME_MS - o % FRAME_MS for o in self.clip.phrase_onsets_ms}

    @cached_property
    def barge_onset_frame(self) -> int | None:
        """The frame holding the barge-in clip's first voiced sample (from the manifest)."""
        if self.barge_frame is None or self.barge_clip is None:
            return None
        return self.barge_frame + (self.barge_clip.onset_ms or 0) // FRAME_MS

    def payload(self, k: int) -> str:
        """Base64 µ-law of frame ``k`` (0-based)."""
        start, barge = self.barge_frame, self.barge_clip
        if start is not None and barge is not None and 0 <= k - start < len(barge.frames_b64):
            return barge.frames_b64[k - start]
        if self.loop_gap_s is not None:
            return self.loop[k % len(self.loop)]
        frames = self.clip.frames_b64
        return frames[k] if k < len(frames) else self.silence


@dataclass
class SessionStats:
    """What happened on one media socket; wall times are ``time.monotonic()`` seconds."""

    opened_at: float = 0.0
    frames_sent: int = 0
    dtmf_sent: int = 0
    send_lag_max_ms: float = 0.0
    late_sends: int = 0  # frames sent more than one frame period after their due time
    backlogged: int = 0  # frames written while the gateway had left 64 KiB of ours unread
    agent_media: int = 0
    first_agent_audio_at: float | None = None
    marks_received: int = 0
    marks_echoed: int = 0
    clear_times: list[float] = field(default_factory=list)
    barge_started_at: float | None = None
    barge_onset_at: float | None = None
    loop_onsets_at: list[float] = field(default_factory=list)  # each phrase's onset, sent
    closed_by: str = "simulator"  # or "gateway" (it closed the socket first)
    close_code: int | None = None
    unexpected: int = 0  # messages that were not media, mark or clear

    @property
    def first_agent_audio_ms(self) -> float | None:
        if self.first_agent_audio_at is None:
            return None
        return (self.first_agent_audio_at - self.opened_at) * 1000

    @property
    def clear_after_onset_ms(self) -> float | None:
        """Caller speech onset → first ``clear`` after the barge-in began (negative: before)."""
        if self.barge_onset_at is None or self.barge_started_at is None:
            return None
        after = [t for t in self.clear_times if t >= self.barge_started_at]
        return (after[0] - self.barge_onset_at) * 1000 if after else None


BARGE_IN_MIN_S = 0.1
"""Agent audio still to play at a caller's onset for it to be a barge-in that needs a clear."""
ONSET_MATCH_S = 1.0
"""A ``clear`` later than this after a loop's speech onset was caused by something else."""


def onset_to_clear_ms(onsets: list[float], clears: list[float]) -> list[float]:
    """Speech onset → the first ``clear`` after it, per onset that got one (times ascending)."""
    out: list[float] = []
    later = iter(clears)
    clear = next(later, None)
    for onset in onsets:
        while clear is not None and clear < onset:
            clear = next(later, None)
        if clear is None:
            break
        if clear - onset <= ONSET_MATCH_S:
            out.append((clear - onset) * 1000)
    return out


def _inner(message: dict[str, Any], key: str) -> dict[str, Any]:
    """``message[key]`` when it is an object, else an empty one (a malformed frame)."""
    inner = message.get(key)
    return inner if isinstance(inner, dict) else {}


def _b64_len(payload: str) -> int:
    """Decoded length of base64 text without decoding it (the load test does not record)."""
    return len(payload) * 3 // 4 - payload.count("=", -2)


class MediaSession:
    """Plays Twilio on an open media socket until the plan's duration or the gateway's close."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        identity: CallIdentity,
        parameters: Mapping[str, str],
        plan: InboundPlan,
        clock: CallClock,
        playback: Playback,
        record: bool = False,
        ticker: FrameTicker | None = None,
    ) -> None:
        self._ws = ws
        self._id = identity
        self._parameters = dict(parameters)
        self._plan = plan
        self._clock = clock
        self._playback = playback
        self._record = record
        self._ticker = ticker
        # Under the shared ticker (a load test), frames skip aiohttp's send path.
        self._raw = RawFrames.of(ws) if ticker is not None else None
        self._dtmf = sorted(plan.dtmf, key=lambda item: item[1])
        self._seq = 0
        self._gateway_closed = False
        self._stopping = False  # set once we send stop: a close after that is ours
        self.stats = SessionStats(opened_at=time.monotonic())

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send_str(json.dumps(message, separators=(",", ":")))

    async def run(self) -> SessionStats:
        """``connected``, ``start``, the paced stream, ``stop``; returns the stats."""
        for message in self._opening_messages():
            await self._send(message)
        self._clock.start()
        async with asyncio.TaskGroup() as group:
            receiver = group.create_task(self._receive())
            try:
                await self._stream()
                if not self._gateway_closed:
                    self._stopping = True
                    await self._send_stop()
                    await self._ws.close()  # Twilio closes the socket after its stop
            except ConnectionError:  # the gateway went away mid-send; the receiver notes it
                pass
            await receiver
        return self.stats

    def _opening_messages(self) -> list[dict[str, Any]]:
        """What the carrier sends before the first audio frame."""
        return [self._connected_message(), self._start_message()]

    def _connected_message(self) -> dict[str, Any]:
        return {"event": "connected", "protocol": "Call", "version": "1.0.0"}

    def _start_message(self) -> dict[str, Any]:
        return {
            "event": "start",
            "sequenceNumber": str(self._next_seq()),
            "streamSid": self._id.stream_sid,
            "start": {
                "streamSid": self._id.stream_sid,
                "accountSid": self._id.account_sid,
                "callSid": self._id.call_sid,
                "tracks": ["inbound"],
                "customParameters": self._parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }

    async def _stream(self) -> None:
        """One frame per 20 ms of call time on a schedule fixed at the start (no drift): from
        the load step's shared ticker when there is one, else on this call's own timer."""
        if self._ticker is not None:
            try:
                await self._ticker.stream(self._frame, self._plan.frame_count)
            finally:
                self.stats.backlogged = self._raw.backlogged if self._raw else 0
            return
        for k in range(self._plan.frame_count):
            lag_s = await self._clock.sleep_until(k * FRAME_S)
            if not await self._frame(k, lag_s * 1000 / self._clock.speed):
                break

    async def _frame(self, k: int, lag_ms: float) -> bool:
        """Frame ``k`` and what falls due with it (DTMF, mark echoes), ``lag_ms`` after its
        due time; ``False`` once the socket is closed (nothing sent)."""
        plan, stats = self._plan, self.stats
        if self._gateway_closed or self._ws.closed:
            return False
        if k == 0 and self._ticker is not None:  # call time 0 is its slot's first tick
            self._clock.start()
        stats.send_lag_max_ms = max(stats.send_lag_max_ms, lag_ms)
        stats.late_sends += lag_ms > FRAME_MS
        while self._dtmf and self._dtmf[0][1] <= k * FRAME_S:
            await self._send_dtmf(self._dtmf.pop(0)[0])
        if k == plan.barge_frame:
            stats.barge_started_at = time.monotonic()
        await self._send_media(k)
        stats.frames_sent += 1
        if k == plan.barge_onset_frame:
            spoken_ms = FRAME_MS - ((plan.barge_clip and plan.barge_clip.onset_ms) or 0) % FRAME_MS
            stats.barge_onset_at = time.monotonic() - spoken_ms / 1000 / self._clock.speed
        if plan.loop_onsets and (onset_ms := plan.loop_onsets.get(k % len(plan.loop))):
            self._note_barge_in(onset_ms)
        if (due := self._playback.next_due_s()) is not None and due <= self._clock.now_s():
            await self._echo(self._playback.due_marks(self._clock.now_s()))
        return True

    async def _send_media(self, k: int) -> None:
        """Send the ``k``-th caller frame (a JSON text frame on Twilio and Telnyx)."""
        text = self._media_text(self._next_seq(), k)
        if self._raw is not None:
            self._raw.text(text)
        else:
            await self._ws.send_str(text)

    def _media_text(self, seq: int, k: int) -> str:
        """The ``k``-th caller frame (built as text: fifty a second on every simulated call)."""
        return (
            f'{{"event":"media","sequenceNumber":"{seq}","streamSid":"{self._id.stream_sid}",'
            f'"media":{{"track":"inbound","chunk":"{k + 1}","timestamp":"{k * FRAME_MS}",'
            f'"payload":"{self._plan.payload(k)}"}}}}'
        )

    def _note_barge_in(self, spoken_ms: int | None) -> None:
        """A phrase began in the frame just sent (``spoken_ms`` before its end): a barge-in,
        if the agent is talking and would go on talking."""
        if spoken_ms and self._playback.queued_s(self._clock.now_s()) > BARGE_IN_MIN_S:
            # A frame goes out once its 20 ms have been spoken: the onset was that much earlier.
            spoken_s = spoken_ms / 1000 / self._clock.speed
            self.stats.loop_onsets_at.append(time.monotonic() - spoken_s)

    async def _send_dtmf(self, digit: str) -> None:
        await self._send(self._event("dtmf", dtmf={"track": "inbound_track", "digit": digit}))
        self.stats.dtmf_sent += 1

    def _event(self, event: str, **body: Any) -> dict[str, Any]:
        """A control message from the carrier, numbered and stamped with the stream's id."""
        head = {"sequenceNumber": str(self._next_seq()), "streamSid": self._id.stream_sid}
        return {"event": event} | head | body

    async def _send_stop(self) -> None:
        stop = {"accountSid": self._id.account_sid, "callSid": self._id.call_sid}
        await self._send(self._event("stop", stop=stop))

    async def _echo(self, names: list[str]) -> None:
        for name in names:
            await self._send(self._event("mark", mark={"name": name}))
            self.stats.marks_echoed += 1

    async def _receive(self) -> None:
        """Agent media, marks and clears until the socket closes (bounded by the call's life)."""
        try:
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    self.stats.unexpected += 1
        except ConnectionError:
            pass
        self.stats.close_code = self._ws.close_code
        if not self._stopping:
            self._gateway_closed = True
            self.stats.closed_by = "gateway"

    async def _on_text(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            self.stats.unexpected += 1
            return
        event, now_s = message.get("event"), self._clock.now_s()
        if event == "media":
            self._on_media(now_s, str(_inner(message, "media").get("payload", "")))
        elif event == "mark":
            self.stats.marks_received += 1
            name = str(_inner(message, "mark").get("name", ""))
            await self._echo(self._playback.push_mark(now_s, name))
        elif event == "clear":
            self.stats.clear_times.append(time.monotonic())
            await self._echo(self._playback.clear(now_s))
        else:
            self.stats.unexpected += 1

    def _on_media(self, now_s: float, payload: str) -> None:
        if self.stats.first_agent_audio_at is None:
            self.stats.first_agent_audio_at = time.monotonic()
        self.stats.agent_media += 1
        if self._record:
            ulaw = base64.b64decode(payload)
            self._playback.push_audio(now_s, len(ulaw), ulaw)
        else:
            self._playback.push_audio(now_s, _b64_len(payload))
