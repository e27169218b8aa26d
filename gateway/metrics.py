"""Prometheus metrics for the gateway (``prometheus_client``: the reference client library).

Names follow Prometheus conventions (base units, ``_total`` counters). The media-path figures
are what ``scripts/loadtest.py`` reads to measure the gateway-added delay per frame.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Gateway-added delay per frame: sub-millisecond normally, so the buckets are fine-grained there.
_DELAY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25)

FRAME_DELAY = Histogram(
    "kura_media_frame_delay_seconds",
    "Gateway-added delay per media frame (inbound: carrier frame in to provider; outbound: "
    "provider audio in to carrier frame written, pacing excluded)",
    ["direction"],
    buckets=_DELAY_BUCKETS_S,
)
FRAMES = Counter("kura_media_frames_total", "Media frames handled", ["direction"])
LATE_FRAMES = Counter(
    "kura_media_late_frames_total", "Media frames whose gateway delay exceeded 20 ms"
)
BAD_INPUT = Counter(
    "kura_media_bad_input_total", "Carrier socket messages ignored as malformed", ["reason"]
)
CALLS_ACTIVE = Gauge("kura_calls_active", "Phone calls bridged to a session now")
SESSIONS_ACTIVE = Gauge("kura_sessions_active", "Sessions connected now", ["channel", "provider"])
SESSIONS_ENDED = Counter("kura_sessions_ended_total", "Sessions ended", ["channel", "reason"])
BARGE_INS = Counter("kura_bargeins_total", "Times a caller talked over the assistant", ["source"])
PROVIDER_ERRORS = Counter("kura_provider_errors_total", "Provider failures", ["provider"])
TURN_LATENCY = Histogram(
    "kura_turn_latency_seconds",
    "From the end of the caller's turn (speech end heard by the gateway's VAD, or a text or DTMF "
    "message) to the assistant's first audio or words",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
WEBHOOK_LATENCY = Histogram(
    "kura_webhook_latency_seconds",
    "Carrier webhook handling time, request in to answer out",
    ["webhook"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

LATE_FRAME_S = 0.020
# Labelled children looked up once: ``labels()`` per frame cost ~7 % of a loaded gateway's CPU.
_DELAY_BY_DIRECTION = {d: FRAME_DELAY.labels(d) for d in ("inbound", "outbound")}
_FRAMES_BY_DIRECTION = {d: FRAMES.labels(d) for d in ("inbound", "outbound")}


def observe_frame(direction: str, delay_s: float) -> None:
    """Record one frame's gateway delay."""
    _DELAY_BY_DIRECTION[direction].observe(delay_s)
    _FRAMES_BY_DIRECTION[direction].inc()
    if delay_s > LATE_FRAME_S:
        LATE_FRAMES.inc()
