"""Prometheus metrics for the gateway (``prometheus_client``: the reference client library).

Names follow Prometheus conventions (base units, ``_total`` counters). The media-path figures
are what ``scripts/loadtest.py`` reads to measure the gateway-added delay per frame.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

# Gateway-added delay per frame: sub-millisecond normally, so the buckets are fine-grained there.
_DELAY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25)

BAD_INPUT = Counter(
    "kura_media_bad_input_total", "Carrier socket messages ignored as malformed", ["reason"]
)
CALLS_ACTIVE = Gauge("kura_calls_active", "Phone calls bridged to a session now")
SESSIONS_ACTIVE = Gauge("kura_sessions_active", "Sessions connected now", ["channel", "provider"])
SESSIONS_ENDED = Counter("kura_sessions_ended_total", "Sessions ended", ["channel", "reason"])
CALLS_PLACED = Counter(
    "kura_outbound_calls_total",
    "Outbound call requests by outcome: placed, replayed (a retry), limited (429), carrier_error",
    ["outcome"],
)
CALLS_REFUSED_BUSY = Counter(
    "kura_calls_refused_total", "Inbound calls refused over a concurrent-call limit"
)
CALL_DEADLINES = Counter("kura_call_deadlines_total", "Calls hung up at their hard max_duration_s")
BARGE_INS = Counter("kura_bargeins_total", "Times a caller talked over the assistant", ["source"])
FALSE_INTERRUPTIONS = Counter(
    "kura_false_interruptions_total",
    "Times the assistant paused for a caller sound that was not a turn, then resumed",
)
PROVIDER_ERRORS = Counter("kura_provider_errors_total", "Provider failures", ["provider"])
TURN_LATENCY = Histogram(
    "kura_turn_latency_seconds",
    "From the end of the caller's turn (speech end heard by the gateway's VAD, or a text or DTMF "
    "message) to the assistant's first audio or words",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
EVENT_LOOP_LAG = Histogram(
    "kura_event_loop_lag_seconds",
    "How late a 100 ms timer fires on the gateway's event loop: time every ready socket waits",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ASYNCIO_TASKS = Gauge(
    "kura_asyncio_tasks",
    "Tasks alive on the gateway's event loop when scraped (scripts/soak.py: a count that keeps "
    "growing with no calls up is a leak)",
)
GC_PAUSE = Histogram(
    "kura_gc_pause_seconds",
    "Garbage-collector pauses of the gateway's event loop, by generation collected",
    ["generation"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
WEBHOOK_LATENCY = Histogram(
    "kura_webhook_latency_seconds",
    "Carrier webhook handling time, request in to answer out",
    ["webhook"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

LATE_FRAME_S = 0.020
DIRECTIONS = ("inbound", "outbound")


class _FrameFigures(Collector):
    """Per-frame delay, frame and late-frame counts, kept as plain integers.

    These are recorded for every 20 ms frame of every call (tens of thousands a second on a
    loaded gateway). ``prometheus_client``'s Histogram takes a lock and walks its buckets for
    each observation, which cost about 4 % of a loaded gateway's CPU; here one ``bisect`` and
    two increments do the work, and the figures are turned into metric families only when
    ``/metrics`` is scraped. The event loop is single-threaded, so no lock is needed.
    """

    def __init__(self) -> None:
        self._counts = {d: [0] * (len(_DELAY_BUCKETS_S) + 1) for d in DIRECTIONS}
        self._sums = dict.fromkeys(DIRECTIONS, 0.0)
        self._late = 0

    def observe(self, direction: str, delay_s: float) -> None:
        self._counts[direction][bisect.bisect_left(_DELAY_BUCKETS_S, delay_s)] += 1
        self._sums[direction] += delay_s
        if delay_s > LATE_FRAME_S:
            self._late += 1

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        delay = HistogramMetricFamily(
            "kura_media_frame_delay_seconds",
            "Gateway-added delay per media frame (inbound: carrier frame in to provider; "
            "outbound: provider audio in to carrier frame written, pacing excluded)",
            labels=["direction"],
        )
        frames = CounterMetricFamily(
            "kura_media_frames", "Media frames handled", labels=["direction"]
        )
        for direction in DIRECTIONS:
            counts, cumulative, buckets = self._counts[direction], 0, []
            for bound, count in zip((*_DELAY_BUCKETS_S, float("inf")), counts, strict=True):
                cumulative += count
                buckets.append((_bucket_label(bound), cumulative))
            delay.add_metric([direction], buckets, self._sums[direction])
            frames.add_metric([direction], cumulative)
        yield delay
        yield frames
        yield CounterMetricFamily(
            "kura_media_late_frames",
            "Media frames whose gateway delay exceeded 20 ms",
            value=self._late,
        )


def _bucket_label(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


_FRAME_FIGURES = _FrameFigures()
REGISTRY.register(_FRAME_FIGURES)


def observe_frame(direction: str, delay_s: float) -> None:
    """Record one frame's gateway delay."""
    _FRAME_FIGURES.observe(direction, delay_s)
