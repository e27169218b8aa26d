"""Read the gateway's Prometheus text (``GET /metrics``) and do histogram arithmetic on it.

Only what the call scripts need: parse sample lines into ``(name, labels) → value``, take the
difference of two scrapes, and estimate a histogram's mean and quantiles from its cumulative
buckets the way PromQL's ``histogram_quantile`` does (linear within the bucket), so the figures
agree with a dashboard over the same data.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import aiohttp

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]

METRICS_PATH = "/metrics"
MAX_METRICS_CHARS = 4 << 20  # a scrape of a few hundred series; refuse runaway output
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> Samples:
    """Sample lines of the Prometheus text format; comments and malformed lines are skipped."""
    samples: Samples = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        name, raw_labels, raw_value = match.groups()
        labels = tuple(sorted(_LABEL.findall(raw_labels or "")))
        try:
            samples[(name, labels)] = float(raw_value)
        except ValueError:
            continue
    return samples


async def scrape(http: aiohttp.ClientSession, base_url: str) -> Samples | None:
    """The gateway's metrics now, or ``None`` when it has no ``/metrics`` (or it failed)."""
    try:
        async with http.get(base_url.rstrip("/") + METRICS_PATH) as reply:
            if reply.status != 200:
                return None
            text = await reply.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    return parse(text[:MAX_METRICS_CHARS])


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """Sum of the series of ``name`` whose labels include ``labels``; ``None`` if there is none."""
    wanted = set(labels.items())
    found = [v for (n, lab), v in samples.items() if n == name and wanted <= set(lab)]
    return sum(found) if found else None


def delta(after: Samples, before: Samples) -> Samples:
    """``after - before`` per series (counters and histogram parts; series new since count
    from zero)."""
    return {key: v - before.get(key, 0.0) for key, v in after.items()}


@dataclass(frozen=True)
class Histogram:
    """One histogram (summed over the series matching some labels): cumulative buckets."""

    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), ascending
    total: float
    count: float

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count > 0 else None

    def quantile(self, q: float) -> float | None:
        """``histogram_quantile``: linear interpolation inside the bucket holding rank q·count.
        Returns the largest finite bound when the rank falls in the ``+Inf`` bucket."""
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower_bound
                if cumulative == lower_count:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                    cumulative - lower_count
                )
            lower_bound, lower_count = bound, cumulative
        return lower_bound


def worst_bound(hist: Histogram) -> float | None:
    """The smallest bucket bound that holds every observation: the worst one is at most this."""
    for bound, cumulative in hist.buckets:
        if cumulative >= hist.count:
            return bound
    return None


def histogram(samples: Samples, name: str, **labels: str) -> Histogram | None:
    """The histogram ``name`` (``_bucket``/``_sum``/``_count``) over series matching ``labels``."""
    wanted = set(labels.items())
    by_bound: dict[float, float] = {}
    for (series, lab), v in samples.items():
        if series != f"{name}_bucket" or not wanted <= set(lab):
            continue
        le = dict(lab).get("le")
        if le is not None:
            bound = math.inf if le in {"+Inf", "Inf"} else float(le)
            by_bound[bound] = by_bound.get(bound, 0.0) + v
    count = value(samples, f"{name}_count", **labels)
    if not by_bound or count is None:
        return None
    total = value(samples, f"{name}_sum", **labels) or 0.0
    return Histogram(tuple(sorted(by_bound.items())), total, count)
