"""The load generator's own machinery: the shared frame ticker, raw client frames, and the
verdict that tells the generator's miss from the gateway's."""

from __future__ import annotations

import asyncio
import itertools
import struct

import pytest

from scripts import loadtest
from scripts.twilio_sim.load import CpuWindow, StepReport
from scripts.twilio_sim.ticker import FrameSender, FrameTicker
from scripts.twilio_sim.wsframe import RawFrames, client_frame, mask


def _unframe(frame: bytes) -> tuple[int, bytes]:
    """(opcode, unmasked payload) of one client frame, read as a server reads it."""
    first, second = frame[0], frame[1]
    assert first & 0x80 and second & 0x80  # final, masked
    n, at = second & 0x7F, 2
    if n == 126:
        (n,) = struct.unpack("!H", frame[2:4])
        at = 4
    key, payload = frame[at : at + 4], frame[at + 4 :]
    assert len(payload) == n
    return first & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 125, 126, 333, 960])
def test_client_frames_are_masked_and_sized_as_rfc_6455_says(size: int) -> None:
    payload = bytes(range(256)) * 4
    payload = payload[:size]
    frame = client_frame(payload, 0x2, b"\x12\x34\x56\x78")
    assert _unframe(frame) == (0x2, payload)
    assert mask(mask(payload, b"abcd"), b"abcd") == payload


class _Transport:
    def __init__(self, buffered: int = 0) -> None:
        self.written: list[bytes] = []
        self.closing = False
        self.buffered = buffered

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered


def test_raw_frames_use_a_fresh_key_and_count_a_gateway_that_stopped_reading() -> None:
    transport = _Transport()
    raw = RawFrames(transport)
    raw.text('{"event":"media"}')
    raw.text('{"event":"media"}')
    assert [_unframe(f) for f in transport.written] == [(1, b'{"event":"media"}')] * 2
    assert transport.written[0][2:6] != transport.written[1][2:6]  # a key per frame
    assert raw.backlogged == 0
    transport.buffered = 1 << 20
    raw.binary(b"\0" * 640)
    assert raw.backlogged == 1
    transport.closing = True
    with pytest.raises(ConnectionResetError):
        raw.text("late")


def test_raw_frames_fall_back_to_aiohttp_when_its_internals_differ() -> None:
    assert RawFrames.of(object()) is None


async def test_one_ticker_sends_every_stream_in_order_in_spread_slots() -> None:
    ticker = FrameTicker(speed=100, slots=4)
    sent: dict[str, list[tuple[int, int]]] = {"a": [], "b": [], "c": [], "d": []}

    def sender(name: str) -> FrameSender:
        async def send(k: int, lateness_ms: float) -> bool:
            assert lateness_ms >= 0
            sent[name].append((k, ticker._tick))
            return True

        return send

    try:
        await asyncio.gather(*(ticker.stream(sender(n), 5) for n in sent))
    finally:
        await ticker.close()
    for frames in sent.values():
        assert [k for k, _ in frames] == [0, 1, 2, 3, 4]
        ticks = [t for _, t in frames]
        assert all(b - a == 4 for a, b in itertools.pairwise(ticks))  # a frame period
    assert len({frames[0][1] % 4 for frames in sent.values()}) == 4  # four phases, not a burst
    figures = ticker.reset_stats().figures()
    assert figures["ticks"] and figures["p99"] is not None and figures["max"] is not None


async def test_a_stream_ends_when_its_sender_says_so_or_fails() -> None:
    ticker = FrameTicker(speed=100)
    calls: list[int] = []

    async def stop_at_two(k: int, lateness_ms: float) -> bool:
        calls.append(k)
        return k < 2

    async def broken(k: int, lateness_ms: float) -> bool:
        raise ConnectionResetError("gone")

    try:
        await ticker.stream(stop_at_two, 10)
        with pytest.raises(ConnectionResetError):
            await ticker.stream(broken, 10)
        await ticker.stream(stop_at_two, 0)  # nothing to send: returns at once
    finally:
        await ticker.close()
    assert calls == [0, 1, 2]


def _step(generator_p99: float, lost: int = 0) -> StepReport:
    report = StepReport(calls=500, duration_s=20, frames_sent=1000, frames_counted=1000 - lost)
    report.generator_lag_ms = {"p50": 1.0, "p99": generator_p99, "max": 40.0}
    report.cpu = CpuWindow(wall_s=10.0, gateway_s=8.0, own_s=6.0)
    return report


def test_a_miss_while_the_generator_lagged_is_the_generators_not_the_gateways() -> None:
    passed_anyway = _step(generator_p99=25.0)
    assert passed_anyway.verdict == "meets targets"
    assert "meets targets, though the generator fell short" in loadtest.format_step(passed_anyway)
    assert loadtest.format_step(_step(generator_p99=3.0)).endswith("\n  meets targets")
    assert _step(generator_p99=3.0, lost=4).verdict == "misses targets"
    lagging = _step(generator_p99=25.0, lost=4)
    assert lagging.verdict == "generator-limited"
    assert lagging.generator_misses() == ["generator tick lag p99 25.0 ms > 10 ms"]
    figures = lagging.as_dict()
    assert figures["verdict"] == "generator-limited" and figures["misses"] == ["4 lost frames"]
    assert "generator-limited (generator tick lag p99 25.0 ms" in loadtest.format_step(lagging)
    saturated = _step(generator_p99=3.0, lost=4)
    saturated.cpu = CpuWindow(wall_s=10.0, gateway_s=8.0, own_s=9.5)
    assert saturated.generator_misses() == ["generator CPU 95 % of its core"]
    crowded = _step(generator_p99=25.0, lost=4)
    crowded.cpu = CpuWindow(wall_s=10.0, gateway_s=8.0, own_s=2.0, own_wait_s=4.0)
    assert crowded.generator_misses()[1] == (
        "it waited 40 % of the time for its core: the machine is busy"
    )
    assert crowded.as_dict()["generator_waited_for_cpu_pct"] == 40.0


def test_a_ramp_that_stops_on_the_generator_says_so() -> None:
    outcome = {"stopped_by": "generator-limited", "stopped_at": 450}
    assert "generator-limited" in loadtest._stop_note(outcome)
    assert loadtest._stop_note({"stopped_by": None, "stopped_at": None}) == ""


def test_run_queue_wait_is_read_from_schedstat_where_the_kernel_keeps_it() -> None:
    from scripts.twilio_sim.gateway_proc import run_queue_wait_s

    own = run_queue_wait_s()
    assert own is None or own >= 0
    assert run_queue_wait_s(2**22 + 7) is None  # above the kernel's pid limit: no such process
